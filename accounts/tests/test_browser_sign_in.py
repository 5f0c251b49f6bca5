"""The whole reader journey in real headless Chromium: link, onboarding, name, sign-out."""

import re

import pytest
from django.core import mail

from accounts.models import Session, User
from testing.browser import focused, sign_in, tab_to
from testing.fixtures import emailed_link_path

# live_server serves from another thread, so the test data must be committed (transaction=True).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
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


def contrast(one: str, other: str) -> float:
    """WCAG contrast of two computed colours ("rgb(r, g, b)")."""

    def luminance(rgb: str) -> float:
        channels = [int(part) / 255 for part in re.findall(r"\d+", rgb)[:3]]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def unseen(stops: list[dict]) -> list[str]:
    """The stops where the focus could not be seen: no ring, a ring under 3:1 against the page
    (WCAG 1.4.11), or off screen."""
    return [
        stop["name"]
        for stop in stops
        if not (stop["ring"] and stop["on_screen"])
        or contrast(stop["ring_colour"], stop["page_colour"]) < 3
    ]


def test_a_reader_signs_in_with_the_keyboard_alone_seeing_the_focus_all_the_way(page):
    page.goto("/")
    stops = tab_to(page, "Skip to content")
    assert stops[-1]["on_screen"], "the skip link shows itself when it has the focus"
    stops += tab_to(page, "Sign in")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Sign in").wait_for()

    # The address field has the focus on arrival (autofocus): type, then on to the button.
    arrived = focused(page)
    assert arrived["tag"] == "input"
    page.keyboard.type("keys@example.com")
    stops += [arrived, *tab_to(page, "Email me a sign-in link", limit=1)]
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Check your email").wait_for()

    assert unseen(stops) == []
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["keys@example.com"]


def test_a_yellow_reader_renames_themselves_by_keyboard_with_a_focus_ring_they_can_see(
    page, live_server
):
    """The focus ring is the same for every team: Yellow's colour (2.8:1 on white) was not."""
    user = User.objects.create(email="sun@example.com", first_name="Sunny", team="YELLOW")
    sign_in(page, live_server, user)
    page.goto("/me")
    stops = tab_to(page, "first_name")
    page.keyboard.press("Control+A")
    page.keyboard.type("Sol")
    stops += tab_to(page, "Save name", limit=1)
    page.keyboard.press("Space")
    page.get_by_role("heading", name="Hello, Sol").wait_for()
    assert unseen(stops) == []
    user.refresh_from_db()
    assert user.first_name == "Sol"
