"""A page that uses the cache, for testing the middleware inside the project's full stack."""

from django.http import HttpResponse
from django.urls import path

from cachedb.cachified import cachified

computed: list[str] = []  # one entry per fetch


def compute() -> str:
    computed.append("fetch")
    return "computed"


def cached_page(request):
    value = cachified(key="page", get_fresh_value=compute)
    return HttpResponse(value)


urlpatterns = [path("cached", cached_page)]
