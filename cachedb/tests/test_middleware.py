"""ServerTimingMiddleware: the response says what cache work was done for it."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from cachedb.cachified import cachified
from cachedb.errors import CacheFetchTimeout
from cachedb.middleware import ServerTimingMiddleware

pytestmark = pytest.mark.django_db


def respond_with(view):
    return ServerTimingMiddleware(view)(RequestFactory().get("/"))


def test_a_miss_and_two_hits_are_summarised_in_server_timing():
    def view(request):
        for _ in range(3):
            cachified(key="k", get_fresh_value=lambda: "v")
        return HttpResponse("ok")

    header = respond_with(view).headers["Server-Timing"]
    assert "cache-hit;dur=" in header and 'desc="2 hit"' in header
    assert "cache-miss;dur=" in header and 'desc="1 miss"' in header


def test_a_timeout_shows_in_server_timing(gate):
    def view(request):
        try:
            cachified(key="dead", get_fresh_value=gate.wait, timeout=0.05)
        except CacheFetchTimeout:
            return HttpResponse("fallback page")

    assert "cache-timeout;dur=" in respond_with(view).headers["Server-Timing"]


def test_django_cache_api_work_is_counted_too():
    from django.core.cache import cache

    def view(request):
        cache.set("a", 1)
        cache.get("a")
        return HttpResponse("ok")

    assert 'desc="2 django"' in respond_with(view).headers["Server-Timing"]


def test_a_response_without_cache_work_gets_no_header():
    assert "Server-Timing" not in respond_with(lambda request: HttpResponse("ok")).headers


def test_an_existing_server_timing_header_is_kept():
    def view(request):
        cachified(key="k", get_fresh_value=lambda: "v")
        response = HttpResponse("ok")
        response.headers["Server-Timing"] = "db;dur=3"
        return response

    header = respond_with(view).headers["Server-Timing"]
    assert header.startswith("db;dur=3, cache-miss;dur=")


def test_work_outside_a_request_is_not_recorded_anywhere():
    assert cachified(key="k", get_fresh_value=lambda: "v") == "v"  # no tally, no error


@pytest.mark.urls("cachedb.tests.urls")
def test_the_header_is_set_by_the_projects_middleware_stack(client):
    first = client.get("/cached")
    second = client.get("/cached")
    assert 'desc="1 miss"' in first.headers["Server-Timing"]
    assert 'desc="1 hit"' in second.headers["Server-Timing"]


@pytest.mark.urls("cachedb.tests.urls")
def test_staff_adding_fresh_to_a_url_recomputes_what_it_shows(client, staff_user):
    from cachedb.tests import urls

    calls = urls.computed
    calls.clear()
    client.get("/cached")
    client.get("/cached?fresh")  # a reader asking: still the cached value
    assert len(calls) == 1
    client.force_login(staff_user)
    client.get("/cached?fresh")
    assert len(calls) == 2
    client.get("/cached")  # without ?fresh, the value just fetched is used
    assert len(calls) == 2
