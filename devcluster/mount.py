"""One node's emulated LiteFS mount directory.

What LiteFS shows (see litesite/litefs.py): `.primary` (`hostname\\n`) only on a replica that
knows its primary; `<db>-pos` as `<16 hex TXID>/<16 hex checksum>\\n`; `.lag` as `%+010d\\n`;
the root directory 0777 on the primary and 0555 on a replica; database files 0666 / 0444; and on a
replica a `<db>-shm` beside every database, whatever its journal mode.

Only the harness and the emulated backend write these files. They write a whole file to a temp
name and rename it, so a reader never sees half a file; the root directory is made writable for
the moment of the rename, because a developer running `manage.py cluster` is not root.
"""

import contextlib
import fcntl
import hashlib
import os
import stat
import threading
from pathlib import Path

from litesite import litefs

NEVER_SYNCED_LAG = 2_147_483_647


def format_pos(txid: int, checksum: str) -> bytes:
    return f"{txid:016x}/{checksum}\n".encode()


def next_checksum(previous: str, txid: int) -> str:
    """A stand-in for LiteFS's rolling checksum: 16 hex digits that change with every TXID."""
    return hashlib.blake2b(f"{previous}:{txid}".encode(), digest_size=8).hexdigest()


@contextlib.contextmanager
def writable_dir(path: Path):
    """Let this process create and rename files in `path` for a moment, then restore its mode."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & stat.S_IWUSR:
        yield
        return
    path.chmod(mode | stat.S_IWUSR)
    try:
        yield
    finally:
        path.chmod(mode)


def write_file(path: Path, data: bytes) -> None:
    """Replace `path` whole, so concurrent readers see the old bytes or the new ones."""
    # Per thread: two threads of one process replacing the same file must not share a temp.
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with writable_dir(path.parent):
        temp.write_bytes(data)
        os.replace(temp, path)


def read_pos(pos_path: Path) -> tuple[int, str]:
    """(TXID, checksum) from a `-pos` file; a missing or unreadable file is a fresh database."""
    try:
        data = pos_path.read_bytes()
    except FileNotFoundError:
        return 0, "0" * 16
    txid = litefs.parse_pos(data)
    if txid is None:
        return 0, "0" * 16
    return txid, data[17:33].decode()


def bump_pos(db_path: Path) -> int:
    """Record one committed write transaction: TXID + 1. Safe across processes (flock)."""
    pos_path = Path(f"{db_path}-pos")
    with open(f"{db_path}-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        txid, checksum = read_pos(pos_path)
        txid += 1
        write_file(pos_path, format_pos(txid, next_checksum(checksum, txid)))
    return txid


class Mount:
    """The mount directory of one node, holding one database."""

    def __init__(self, path: Path, db_name: str):
        self.path = Path(path)
        self.db_name = db_name
        self.path.mkdir(parents=True, exist_ok=True)

    @property
    def db_path(self) -> Path:
        return self.path / self.db_name

    @property
    def pos_path(self) -> Path:
        return self.path / f"{self.db_name}-pos"

    @property
    def primary_path(self) -> Path:
        return self.path / ".primary"

    @property
    def lag_path(self) -> Path:
        return self.path / ".lag"

    @property
    def shm_path(self) -> Path:
        return self.path / f"{self.db_name}-shm"

    def read_pos(self) -> tuple[int, str]:
        return read_pos(self.pos_path)

    def write_pos(self, txid: int, checksum: str) -> None:
        write_file(self.pos_path, format_pos(txid, checksum))

    def write_lag(self, milliseconds: int) -> None:
        write_file(self.lag_path, f"{milliseconds:+010d}\n".encode())

    def set_primary_file(self, hostname: str | None) -> None:
        """`.primary` names the primary; None removes it (we are primary, or disconnected)."""
        if hostname is None:
            with writable_dir(self.path), contextlib.suppress(FileNotFoundError):
                self.primary_path.unlink()
        else:
            write_file(self.primary_path, f"{hostname}\n".encode())

    def write_raw(self, name: str, data: bytes) -> None:
        """Put arbitrary bytes in a side file: for tests of malformed LiteFS state."""
        write_file(self.path / name, data)

    def make_primary(self) -> None:
        self.set_primary_file(None)
        self.write_lag(0)
        if self.db_path.exists():
            self.db_path.chmod(0o666)
        self.path.chmod(0o777)

    def make_replica(self, primary: str | None) -> None:
        self.set_primary_file(primary)
        if not self.lag_path.exists():
            # As LiteFS shows it on a replica that has not synced yet.
            self.write_lag(NEVER_SYNCED_LAG)
        if self.db_path.exists():
            self.db_path.chmod(0o444)
            if not self.shm_path.exists():
                # A replica lists one in rollback-journal mode too; SQLite ignores it there.
                with writable_dir(self.path):
                    self.shm_path.touch()
        self.path.chmod(0o555)

    def remove_database(self) -> None:
        """A fresh volume: no database, no side files, TXID 0."""
        with writable_dir(self.path):
            for suffix in ("", "-wal", "-shm", "-journal", "-pos", "-lock"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
        self.ensure_pos()

    def ensure_pos(self) -> None:
        if not self.pos_path.exists():
            self.write_pos(0, "0" * 16)
