"""A throwaway PostgreSQL server for the migration tests and the benchmark.

initdb and postgres refuse to run as root, so as root they run as the unprivileged `postgres`
system user (in a directory that user owns); anyone else runs them as themselves. The server
listens on 127.0.0.1 on a free port with password authentication (so a wrong password really
is refused), keeps no Unix socket, and is stopped and deleted afterwards.

The tests' fixtures (conftest.py beside this module) start one per test session; the benchmark
(legacy/bench/migrate.py) starts its own.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

SUPERUSER = "postgres"
PASSWORD = "litesite-test-password"
LEGACY_SCHEMA = Path(__file__).resolve().parents[1] / "postgres_import" / "legacy-schema.sql"


def postgres_bin_dir() -> Path:
    """Where initdb/pg_ctl live: Debian keeps them off PATH under /usr/lib/postgresql/N/bin."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed; run scripts/system-deps."
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    """One running server; `url(dbname)` gives a connection URL for a database on it."""

    data_dir: Path
    port: int
    bin_dir: Path

    def url(self, dbname: str = "postgres", *, password: str = PASSWORD) -> str:
        return f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.url(dbname), **kwargs)

    def create_database(self, *, schema: bool = True) -> str:
        """A new empty database, with the legacy site's schema loaded unless schema=False."""
        name = f"legacy_{uuid.uuid4().hex[:12]}"
        with self.connect(autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        if schema:
            with self.connect(name, autocommit=True) as conn:
                conn.execute(LEGACY_SCHEMA.read_text())
        return name

    def drop_database(self, name: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        _run_as_owner(
            [str(self.bin_dir / "pg_ctl"), "stop", "-D", str(self.data_dir), "-m", "fast"]
        )
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _as_root() -> bool:
    return os.geteuid() == 0


def _run_as_owner(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    if _as_root():
        args = ["runuser", "-u", "postgres", "--", *args]
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def start_postgres(*, settings: dict[str, str] | None = None) -> PostgresServer:
    """initdb + pg_ctl start in a fresh temporary directory; the caller must call stop()."""
    bin_dir = postgres_bin_dir()
    base = Path(tempfile.mkdtemp(prefix="litesite-pg-"))
    data_dir = base / "data"
    password_file = base / "password"
    password_file.write_text(PASSWORD + "\n")
    if _as_root():
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(password_file, "postgres", "postgres")
    _run_as_owner(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data_dir),
            "-U",
            SUPERUSER,
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
    )
    port = free_port()
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "''",
        "fsync": "off",
        "full_page_writes": "off",
        "synchronous_commit": "off",
        **(settings or {}),
    }
    option_text = " ".join(f"-c {key}={value}" for key, value in options.items())
    _run_as_owner(
        [
            str(bin_dir / "pg_ctl"),
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(data_dir),
            "-l",
            str(base / "server.log"),
            "-o",
            option_text,
        ]
    )
    return PostgresServer(data_dir=data_dir, port=port, bin_dir=bin_dir)


# --- Rows of the old site, for tests ------------------------------------------------------------
def insert_user(conn, **overrides) -> dict:
    row = {
        "id": str(uuid.uuid4()),
        "createdAt": "2021-03-04 05:06:07.891",
        "updatedAt": "2022-01-02 03:04:05.678",
        "email": f"reader-{uuid.uuid4().hex[:8]}@example.com",
        "firstName": "Reader",
        "discordId": None,
        "convertKitId": None,
        "role": "MEMBER",
        "team": "BLUE",
        **overrides,
    }
    _insert(conn, "User", row)
    return row


def insert_session(conn, *, user_id: str, **overrides) -> dict:
    row = {
        "id": str(uuid.uuid4()),
        "createdAt": "2023-05-06 07:08:09.123",
        "userId": user_id,
        "expirationDate": "2099-05-06 07:08:09.456",
        **overrides,
    }
    _insert(conn, "Session", row)
    return row


def insert_call(conn, *, user_id: str, data_url: str, **overrides) -> dict:
    row = {
        "id": str(uuid.uuid4()),
        "createdAt": "2023-01-01 00:00:00.001",
        "updatedAt": "2023-01-02 00:00:00.999",
        "title": "A question",
        "description": "About testing",
        "keywords": "testing,sqlite",
        "userId": user_id,
        "base64": data_url,
        **overrides,
    }
    _insert(conn, "Call", row)
    return row


def insert_post_read(conn, **overrides) -> dict:
    row = {
        "id": str(uuid.uuid4()),
        "createdAt": "2023-02-03 04:05:06.789",
        "userId": None,
        "clientId": str(uuid.uuid4()),
        "postSlug": "a-post",
        **overrides,
    }
    _insert(conn, "PostRead", row)
    return row


def _insert(conn, table: str, row: dict) -> None:
    columns = ", ".join(f'"{name}"' for name in row)
    placeholders = ", ".join(["%s"] * len(row))
    conn.execute(f'INSERT INTO "{table}" ({columns}) VALUES ({placeholders})', list(row.values()))


# --- Running the command as an operator would -----------------------------------------------------
PROJECT_DIR = Path(__file__).resolve().parents[2]


def sine_recording(folder: Path, *, seconds: int, codec: list[str], name: str) -> bytes:
    """A real audio file made by ffmpeg, for the legacy "Call" table's recordings."""
    path = folder / name
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
            *codec,
            str(path),
        ],
        check=True,
    )
    return path.read_bytes()


def command_env(folder: Path, **extra: str) -> dict[str, str]:
    """Environment for manage.py with the site database in `folder` (and its cache beside it)."""
    env = dict(os.environ)
    env.pop("POSTGRES_DATABASE_URL", None)
    env.update(
        DATABASE_URL=f"sqlite:///{folder / 'site.sqlite3'}",
        CACHE_DATABASE_URL=f"sqlite:///{folder / 'cache.sqlite3'}",
        LITEFS_DIR="",
        **extra,
    )
    return env


def run_migrate_from_postgres(
    folder: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "migrate_from_postgres", *args],
        cwd=PROJECT_DIR,
        env=env or command_env(folder),
        capture_output=True,
        text=True,
        timeout=300,
    )
