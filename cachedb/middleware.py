from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponseBase

from cachedb import reporting
from cachedb.cachified import fresh_requested


class ServerTimingMiddleware:
    """Adds a `Server-Timing` header summarising the cache work done for the response.

    Browsers show it in the network panel, so anyone can see whether a slow page missed the cache,
    waited on another fetch, or timed out, without reading server logs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        work, token = reporting.start_request()
        fresh_token = fresh_requested.set(False)
        try:
            response = self.get_response(request)
        finally:
            fresh_requested.reset(fresh_token)
            reporting.end_request(token)
        summary = work.server_timing()
        if summary:
            existing = response.headers.get("Server-Timing")
            response.headers["Server-Timing"] = f"{existing}, {summary}" if existing else summary
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponseBase],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        # Staff add ?fresh to a URL to see what it shows recomputed now, on this machine (the
        # cached values stay as the fallback if a fetch fails). Here, not in __call__, because
        # request.user only exists once the inner middleware has run.
        if "fresh" in request.GET and getattr(request, "user", None) and request.user.is_staff:
            fresh_requested.set(True)
