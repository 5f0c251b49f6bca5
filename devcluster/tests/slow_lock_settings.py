"""A cluster node's settings for tests that hold the site database's write lock across steps: a
write (a migration, a request) waits up to a minute for it instead of failing after 5 s."""

from devcluster.settings import *  # noqa: F403
from devcluster.settings import DATABASES

SITE_DB_BUSY_TIMEOUT = 60.0
DATABASES["default"]["OPTIONS"]["timeout"] = SITE_DB_BUSY_TIMEOUT
