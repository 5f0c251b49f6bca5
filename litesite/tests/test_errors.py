"""Error pages render without touching the database, so they work when it is the problem."""

from django.test import RequestFactory

from litesite import errors


def test_the_404_page_names_the_missing_path_without_a_database():
    request = RequestFactory().get("/no/such/page")
    response = errors.page_not_found(request, Exception("not found"))
    assert response.status_code == 404
    assert b"Page not found" in response.content
    assert b"<code>/no/such/page</code>" in response.content


def test_the_404_page_escapes_the_path():
    request = RequestFactory().get("/<script>alert(1)</script>")
    response = errors.page_not_found(request, Exception("not found"))
    assert b"<script>alert" not in response.content


def test_the_500_page_renders_without_a_database():
    response = errors.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    assert b"Something went wrong" in response.content


def test_unknown_urls_get_the_site_404_page(client, db):
    response = client.get("/certainly-not-a-page")
    assert response.status_code == 404
    assert b"Page not found" in response.content
