"""A separate process for the cross-process tests: fetch one key through cachified().

    python race_fetch.py KEY FETCH_LOG GATE_FILE

The fetch appends this process's pid to FETCH_LOG, then waits (bounded) for GATE_FILE to exist,
so the test can hold it open until the other process is seen waiting. Cache events are printed to
stdout as `event key` lines; the value is printed last as `value <json>`.
"""

import json
import logging
import os
import sys
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")


class PrintEvents(logging.Handler):
    def emit(self, record):
        if hasattr(record, "cache_event"):
            print(record.cache_event, record.cache_key, flush=True)


def main(key: str, fetch_log: str, gate_file: str) -> None:
    django.setup()
    logging.getLogger("cachedb").addHandler(PrintEvents())
    logging.getLogger("cachedb").setLevel(logging.DEBUG)
    from cachedb.cachified import cachified

    def fetch():
        with open(fetch_log, "a") as log:
            log.write(f"{os.getpid()}\n")
        deadline = time.monotonic() + 30
        while not Path(gate_file).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"fetched_by": os.getpid()}

    print("calling", key, flush=True)
    value = cachified(key=key, get_fresh_value=fetch, ttl=300, timeout=30)
    print("value", json.dumps(value), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
