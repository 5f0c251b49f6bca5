import re

import pytest
from django.contrib.messages import constants, get_messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.core import signing
from django.test import RequestFactory

from blog import fragments
from blog.tickets import SALT

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
TICKET = re.compile(r'<meta name="read-ticket" content="([^"]+)">')


@pytest.fixture
def post(posts_dir):
    posts_dir.write("memo", title="Remembered", body="## One\n\nText.")
    return "/blog/memo/"


def without_token(html: str) -> str:
    """The page without what is punched in per request: the CSRF token and the read ticket."""
    return TICKET.sub("", TOKEN.sub("", html))


def test_anonymous_visitors_share_one_rendering_but_get_their_own_csrf_token(client, post):
    first = client.get(post).content.decode()
    client.cookies.clear()
    second = client.get(post).content.decode()
    assert len(fragments.anonymous_pages) == 1
    assert TOKEN.search(first).group(1) != TOKEN.search(second).group(1)
    assert fragments.CSRF_HOLE not in second
    assert without_token(first) == without_token(second)


def test_anonymous_visitors_share_one_rendering_but_get_their_own_read_ticket(client, post):
    first = client.get(post)
    client.cookies.clear()
    second = client.get(post)
    assert len(fragments.anonymous_pages) == 1
    tickets = [
        signing.Signer(salt=SALT).unsign_object(TICKET.search(response.content.decode()).group(1))
        for response in (first, second)
    ]
    # Each names the client_id that its own response sets.
    assert [ticket["reader"] for ticket in tickets] == [
        f"client:{response.cookies['client_id'].value}" for response in (first, second)
    ]
    assert tickets[0]["reader"] != tickets[1]["reader"]
    assert fragments.hole("read_ticket") not in second.content.decode()


def test_a_remembered_page_is_the_page_a_fresh_render_gives(client, post, settings):
    client.get(post)
    remembered = client.get(post).content.decode()
    settings.DEBUG = True  # nothing is remembered in development
    fresh = client.get(post).content.decode()
    assert without_token(remembered) == without_token(fresh)


def test_the_address_is_part_of_the_key(client, post):
    client.get(post)
    client.get(post + "?utm_source=feed")
    assert len(fragments.anonymous_pages) == 2


def test_signed_in_readers_get_their_own_page(client, post, make_user):
    client.get(post)
    user = make_user(email="named@example.com")
    client.force_login(user)
    html = client.get(post).content.decode()
    assert user.first_name in html
    assert len(fragments.anonymous_pages) == 1


def test_a_pending_flash_message_is_never_remembered(post, rf: RequestFactory):
    from django.contrib.auth.models import AnonymousUser

    from blog.views import post_detail

    request = rf.get(post)
    request.user = AnonymousUser()
    request._messages = CookieStorage(request)
    request._messages.add(constants.INFO, "Signed out.")
    response = post_detail(request, "memo")
    assert response.status_code == 200
    assert "Signed out." in response.content.decode()
    assert len(get_messages(request)) == 1
    assert not len(fragments.anonymous_pages)


def test_fragments_are_rendered_once_per_distinct_input(client, post):
    client.get(post)
    remembered = len(fragments.rendered_fragments)
    assert remembered >= 1
    client.cookies.clear()
    fragments.anonymous_pages.clear()  # the page again, from its fragments
    client.get(post)
    assert len(fragments.rendered_fragments) == remembered
