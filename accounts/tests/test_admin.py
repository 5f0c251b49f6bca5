"""/admin/: only ADMIN users, signed in through the magic link."""

import pytest
from django.test import Client

from accounts.models import Role, User
from testing.fixtures import ask_for_link

pytestmark = pytest.mark.django_db


def signed_in(user):
    browser = Client()
    browser.force_login(user)
    return browser


def test_anonymous_visitors_are_sent_to_the_magic_link_sign_in(client):
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1] == ("/login?next=/admin/", 302)
    assert b'type="password"' not in response.content


def test_the_admin_login_url_itself_has_no_password_form(client):
    response = client.get("/admin/login/?next=/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"] == "/login?next=/admin/accounts/user/"


def test_members_are_refused_with_an_explanation(reader):
    browser = signed_in(reader)
    response = browser.get("/admin/", follow=True)
    assert response.status_code == 403
    assert b"Admins only" in response.content
    assert browser.get("/admin/accounts/user/").status_code in (302, 403)


def test_admins_see_the_admin_and_the_users(staff_user, reader):
    browser = signed_in(staff_user)
    assert browser.get("/admin/").status_code == 200
    listing = browser.get("/admin/accounts/user/")
    assert listing.status_code == 200 and b"ada@example.com" in listing.content


def test_users_can_be_searched_by_email_and_name_and_filtered_by_role_and_team(staff_user, reader):
    User.objects.create(email="zed@example.com", first_name="Zed", team="YELLOW")
    browser = signed_in(staff_user)
    by_name = browser.get("/admin/accounts/user/?q=Ada").content
    assert b"ada@example.com" in by_name and b"zed@example.com" not in by_name
    by_email = browser.get("/admin/accounts/user/?q=zed@").content
    assert b"zed@example.com" in by_email and b"ada@example.com" not in by_email
    by_team = browser.get("/admin/accounts/user/?team__exact=YELLOW").content
    assert b"zed@example.com" in by_team and b"ada@example.com" not in by_team
    by_role = browser.get("/admin/accounts/user/?role__exact=ADMIN").content
    assert b"host@example.com" in by_role and b"zed@example.com" not in by_role


def test_a_users_page_lists_their_sessions_inline(staff_user, reader):
    signed_in(reader)
    browser = signed_in(staff_user)
    page = browser.get(f"/admin/accounts/user/{reader.pk}/change/").content.decode()
    assert "Sessions (delete one to sign that browser out)" in page
    assert 'name="sessions-TOTAL_FORMS" value="1"' in page


def test_an_admin_signing_in_by_link_lands_in_the_admin(client, staff_user):
    client.get("/admin/")
    link = ask_for_link(client, "host@example.com", next="/admin/")
    assert client.get(link)["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_demoting_an_admin_closes_the_admin_to_them(staff_user):
    browser = signed_in(staff_user)
    User.objects.filter(pk=staff_user.pk).update(role=Role.MEMBER)
    assert browser.get("/admin/", follow=True).status_code == 403
