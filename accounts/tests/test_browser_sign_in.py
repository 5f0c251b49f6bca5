"""The whole reader journey in real headless Chromium: link, onboarding, name, sign-out."""

import pytest
from django.core import mail

from accounts.models import Session, User
from accounts.tests.conftest import emailed_link_path

# live_server serves from another thread, so the test data must be committed (transaction=True).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, databases=["default", "cache"]),
]


def test_a_new_reader_signs_up_by_link_renames_themselves_and_signs_out(page):
    page.goto("/login")
    page.get_by_label("Email address").fill("playwright@example.com")
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.get_by_role("heading", name="Check your email").wait_for()
    assert page.get_by_text("We emailed a sign-in link to playwright@example.com").is_visible()

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["playwright@example.com"]
    page.goto(emailed_link_path(mail.outbox[0]))

    page.get_by_role("heading", name="Welcome!").wait_for()
    teams = page.get_by_role("radio")
    assert teams.count() == 3
    page.get_by_label("First name").fill("Pat")
    page.get_by_role("radio", name="Yellow").check()
    page.get_by_role("button", name="Create my account").click()

    page.get_by_role("heading", name="Hello, Pat").wait_for()
    assert page.url.endswith("/me")
    assert page.get_by_text("Welcome, Pat! Your account is ready.").is_visible()
    assert "team-yellow" in page.locator("body").get_attribute("class")
    user = User.objects.get(email="playwright@example.com")
    assert (user.first_name, user.team) == ("Pat", "YELLOW")

    page.get_by_label("First name").fill("Patricia")
    page.get_by_role("button", name="Save name").click()
    page.get_by_role("heading", name="Hello, Patricia").wait_for()
    assert page.get_by_text("Your name is saved.").is_visible()
    assert page.get_by_role("navigation", name="Main").get_by_text("Patricia").is_visible()
    user.refresh_from_db()
    assert user.first_name == "Patricia"

    page.get_by_role("button", name="Sign out", exact=True).click()
    page.get_by_text("You are signed out.").wait_for()
    assert (
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Sign in").is_visible()
    )
    assert not Session.objects.filter(user=user).exists()
    page.goto("/me")
    assert "/login?next=/me" in page.url
