"""A page that uses the cache, for testing the middleware inside the project's full stack."""

from django.http import HttpResponse
from django.urls import path

from cachedb.cachified import cachified


def cached_page(request):
    value = cachified(key="page", get_fresh_value=lambda: "computed")
    return HttpResponse(value)


urlpatterns = [path("cached", cached_page)]
