"""The health check Fly polls.

- The site database must answer a query that reads its schema; if it cannot, 503: this machine
  cannot serve the site. That is the only 503 (see fly.toml's checks for why).
- Replication is reported as LiteFS shows it to this node: its role, the primary it knows (or
  none), its TXID and lag, and whether writes can be served here, by replay to the primary, or
  not at all. A replica without a primary, or far behind, still serves every read: it answers
  200 with "degraded", so Fly keeps routing the region's readers to it instead of across the
  world, and writes get a clean 503 from the middleware until a primary is back.
- The cache database is checked for its tables (not just that the file opens), and healed when
  they are missing. A failing cache makes the answer "degraded" but still 200: pages are then
  computed without the cache, slower but correct, and taking the machine out of Fly's rotation
  would turn a slowdown into an outage for its region.
"""

import logging

from django.db import connections
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from cachedb import faults
from litesite import litefs

logger = logging.getLogger(__name__)


def check_site_database() -> str:
    """ "ok", or the error the site database answered with."""
    try:
        with connections["default"].cursor() as cursor:
            # Reads the schema from the file: "SELECT 1" answers even when the file is gone.
            cursor.execute("SELECT count(*) FROM sqlite_master")
            cursor.fetchone()
    except Exception as exc:  # any failure is a failed check, reported by name
        return f"{type(exc).__name__}: {exc}"
    return "ok"


# A replica further behind than this is reported "degraded" (it still serves its reads).
LAG_DEGRADED_MS = 10_000
# What `.lag` reads before a replica's first sync (LiteFS's "never synced").
NEVER_SYNCED_MS = 2_147_483_647


def replication_state(node: litefs.Node) -> dict:
    """What LiteFS says about this node, and whether writes can be served."""
    if node.standalone:
        return {"mode": "standalone", "role": "primary", "writes": "here"}
    role = node.role
    txid = node.txid
    lag = node.lag_ms
    writes = {
        litefs.Role.PRIMARY: "here",
        litefs.Role.REPLICA: "by replay to the primary",
        litefs.Role.NO_PRIMARY: "unavailable: no primary is known",
    }[role]
    return {
        "mode": "litefs",
        "instance": node.instance_id,
        "region": node.region,
        "role": role.value,
        "primary": node.primary_hostname,
        "txid": None if txid is None else litefs.format_txid(txid),
        "lag_ms": None if lag is None or lag == NEVER_SYNCED_MS else lag,
        "never_synced": lag == NEVER_SYNCED_MS,
        "writes": writes,
    }


def replication_problem(state: dict) -> str | None:
    if state["mode"] == "standalone" or state["role"] == "primary":
        return None
    if state["role"] == "no-primary":
        return "no primary is known: writes are refused until one is back"
    if state["never_synced"]:
        return "this replica has not synced yet"
    if state["lag_ms"] is None:
        return "the replication lag cannot be read"
    if state["lag_ms"] > LAG_DEGRADED_MS:
        return f"this replica is {state['lag_ms']} ms behind the primary"
    return None


@never_cache
@require_safe
def healthcheck(request):
    databases = {"default": check_site_database(), "cache": faults.check_schema()}
    cache_faults = faults.recent_faults()
    replication = replication_state(litefs.Node.from_settings())
    problems = [
        problem
        for problem in (
            replication_problem(replication),
            None if databases["cache"] == "ok" and not cache_faults else "the cache is degraded",
        )
        if problem
    ]
    body = {
        "databases": databases,
        "replication": replication,
        "cache_faults": cache_faults,
        "problems": problems,
    }
    if databases["default"] != "ok":
        logger.error("Health check failing: site database %s", databases["default"])
        return JsonResponse({"status": "failing", **body}, status=503)
    return JsonResponse({"status": "degraded" if problems else "ok", **body})
