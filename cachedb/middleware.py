from cachedb import reporting


class ServerTimingMiddleware:
    """Adds a `Server-Timing` header summarising the cache work done for the response.

    Browsers show it in the network panel, so anyone can see whether a slow page missed the cache,
    waited on another fetch, or timed out, without reading server logs.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        work, token = reporting.start_request()
        try:
            response = self.get_response(request)
        finally:
            reporting.end_request(token)
        summary = work.server_timing()
        if summary:
            existing = response.headers.get("Server-Timing")
            response.headers["Server-Timing"] = f"{existing}, {summary}" if existing else summary
        return response
