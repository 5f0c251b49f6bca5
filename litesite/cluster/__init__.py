"""An emulated LiteFS cluster on one machine, for the tests and for `manage.py cluster`.

LiteFS itself cannot run here (no FUSE binary in any registry we reach), so this package shows
the application exactly what LiteFS would (see the contract in the README):

- mount.py      an emulated mount directory per node: `.primary`, `<db>-pos`, `.lag`, modes
- backend/      a Django SQLite backend for nodes: opens a replica's database read-only, refuses
                writes with a real replica's errors (778 in WAL mode, 1544 with a rollback
                journal), and bumps `<db>-pos` on each commit
- litefs_api.py LiteFS's `GET /info` for each node
- edge.py       a loopback proxy that behaves like Fly's edge (regions, fly-replay, hops)
- harness.py    primary + replicas as gunicorn processes; replication, lag, disconnection and
                failover under the caller's control
- client.py     a small cookie-keeping HTTP client for talking to the edge
"""
