"""An emulated LiteFS cluster on one machine, for development, the tests and the benches.

A development app: installed with DEBUG or DEVCLUSTER (litesite/settings.py), left out of the
Docker image (.dockerignore) and of the package (pyproject.toml). The product never imports it.

LiteFS itself cannot run here (no FUSE binary in any registry we reach), so this package shows
the application exactly what LiteFS would (shared/LITEFS.md, README "Multi-region locally"):

- mount.py        an emulated mount directory per node: `.primary`, `<db>-pos`, `.lag`, `-shm`,
                  modes
- backend/        a Django SQLite backend for nodes (settings.py swaps it in): opens a replica's
                  database read-only, refuses writes with a real replica's errors (778 in WAL
                  mode, 1544 with a rollback journal), and bumps `<db>-pos` on each commit
- litefs_api.py   LiteFS's `GET /info` for each node
- litefs_config.py litefs.yml as a machine's LiteFS reads it: candidate, promote, exec
- edge.py         a loopback proxy that behaves like Fly's edge (regions, fly-replay, hops)
- harness.py      primary + replicas as gunicorn processes; replication, lag, disconnection,
                  failover, machines stopping and booting, under the caller's control
- client.py       a small cookie-keeping HTTP client for talking to the edge
- management/commands/cluster.py   `manage.py cluster`
"""
