"""A separate process that uses the cache the way a gunicorn worker does, one command a line.

    CACHE_DATABASE_URL=sqlite:////tmp/x/cache.sqlite3 python cache_worker.py

Reads commands from stdin and answers each with one JSON line on stdout:
- `get KEY`: cachified(KEY) with a value computed here; answers {"value": ..., "stored": bool}.
- `faults`: this process's recorded cache faults.
Its connection to the cache file is persistent, as a worker's is, so a test can change the file
between two commands and see what a long-lived worker sees.
"""

import json
import os
import sys
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")


def main() -> None:
    django.setup()
    from cachedb import faults, store
    from cachedb.cachified import cachified
    from cachedb.connection import raw_connection

    @faults.degrades_to(False, doing="look for a stored value")
    def is_stored(key: str) -> bool:
        row = raw_connection().execute("SELECT 1 FROM cache_entry WHERE key = ?", (key,))
        return row.fetchone() is not None

    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "get":
            value = cachified(key=argument, get_fresh_value=lambda key=argument: {"computed": key})
            store.reset_memory(0)  # answer "stored" from the file, not from this process
            answer = {"value": value, "stored": is_stored(argument)}
        elif command == "faults":
            answer = faults.recent_faults()
        else:
            answer = {"error": f"unknown command {command!r}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
