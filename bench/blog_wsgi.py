"""WSGI entry point for bench/blog.py only: the site as deployed, plus one bare view.

The bare view (`/bench/bare`) returns fixed bytes through the same middleware, in the same
gunicorn, so a page's requests per second can be read as a share of what the server itself
can do on this machine.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "litesite.settings")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

application = get_wsgi_application()

import litesite.urls  # noqa: E402

BARE_BODY = b"<!doctype html><title>bare</title><p>" + b"x" * 2000 + b"</p>"


def bare(request):
    return HttpResponse(BARE_BODY)


handler404 = litesite.urls.handler404
handler500 = litesite.urls.handler500
urlpatterns = [path("bench/bare", bare), *litesite.urls.urlpatterns]

settings.ROOT_URLCONF = __name__
# Without `collectstatic` there is no manifest; file names are looked up as they are.
settings.STORAGES = {
    **settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
