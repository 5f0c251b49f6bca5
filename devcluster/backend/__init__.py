"""Django database backend for the emulated cluster's nodes (devcluster.settings); see base.py."""
