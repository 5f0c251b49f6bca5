from django.contrib.sessions.middleware import SessionMiddleware as DjangoSessionMiddleware


class SessionMiddleware(DjangoSessionMiddleware):
    """Django's session middleware, plus rolling expiry (accounts/sessions.py)."""


class ClientIdMiddleware:
    """Gives anonymous visitors a long-lived client_id cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
