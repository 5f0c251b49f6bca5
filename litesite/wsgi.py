import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")


class WithoutHeadBodies:
    """Answers HEAD requests with the GET response's status and headers (Content-Length
    included) and no body.

    Django renders a HEAD request like a GET and leaves the body for the server to drop: the test
    client and runserver do (`conditional_content_removal`, `ServerHandler.finish_response`), and
    gunicorn does too but logs a warning for every such response. Django has already called
    start_response when it hands back the body, so the headers are sent as they are; the body is
    closed unread, which also spares a streaming body (a call's audio) its database reads.
    """

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        body = self.application(environ, start_response)
        if environ.get("REQUEST_METHOD") != "HEAD":
            return body
        close = getattr(body, "close", None)
        if close is not None:
            # What the server would call after sending the body: closes files, ends the request.
            close()
        return []


application = WithoutHeadBodies(get_wsgi_application())
