"""The health check Fly polls.

- The site database must answer a query that reads its schema; if it cannot, 503: this machine
  cannot serve the site.
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


@never_cache
@require_safe
def healthcheck(request):
    databases = {"default": check_site_database(), "cache": faults.check_schema()}
    cache_faults = faults.recent_faults()
    body = {"databases": databases, "cache_faults": cache_faults}
    if databases["default"] != "ok":
        logger.error("Health check failing: site database %s", databases["default"])
        return JsonResponse({"status": "failing", **body}, status=503)
    if databases["cache"] != "ok" or cache_faults:
        return JsonResponse({"status": "degraded", **body})
    return JsonResponse({"status": "ok", **body})
