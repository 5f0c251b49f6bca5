"""Settings of a node of the emulated LiteFS cluster (devcluster.harness runs every node, and
every command on a node, with DJANGO_SETTINGS_MODULE=devcluster.settings).

The site's own settings, with the site database opened through the emulated LiteFS backend
(devcluster/backend): read-only on a replica, its TXID advanced by each commit. Never on Fly.
"""

from litesite.settings import *  # noqa: F403
from litesite.settings import DATABASES

DATABASES["default"]["ENGINE"] = "devcluster.backend"
