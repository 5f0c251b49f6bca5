"""What LiteFS says about this node. (Standalone only until the replication work lands.)"""


class ReplayToPrimary(Exception):
    """Raised by ensure_primary() on a replica; the middleware answers with a fly-replay."""


def ensure_primary() -> None:
    """Call before writing during a safe (GET/HEAD) request. Standalone: always the primary."""


def primary_hostname() -> str | None:
    """The primary's hostname (Fly machine id) when running under LiteFS, else None."""
    return None
