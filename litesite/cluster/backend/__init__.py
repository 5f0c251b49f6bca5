"""Django database backend for emulated LiteFS nodes (LITEFS_EMULATION=true); see base.py."""
