"""/signup: onboarding a new reader after their first link."""

import datetime as dt

import pytest
import time_machine

from accounts.models import Role, Session, User
from testing.fixtures import ask_for_link

# Signing in moves anonymous reads, which refreshes cached standings in the cache database.
pytestmark = pytest.mark.django_db


@pytest.fixture
def onboarding_client(client):
    client.get(ask_for_link(client, "Newbie@Example.com"))
    return client


def test_the_form_names_the_address_and_offers_three_teams(onboarding_client):
    response = onboarding_client.get("/signup")
    html = response.content.decode()
    assert "newbie@example.com" in html
    assert all(f'value="{team}"' in html for team in ("RED", "BLUE", "YELLOW"))


def test_the_teams_are_shown_in_random_order(onboarding_client):
    orders = set()
    for _ in range(30):
        html = onboarding_client.get("/signup").content.decode()
        orders.add(
            tuple(sorted(("RED", "BLUE", "YELLOW"), key=lambda t: html.index(f'value="{t}"')))
        )
    assert len(orders) > 1


def test_onboarding_creates_the_member_signs_them_in_and_welcomes_them(onboarding_client):
    response = onboarding_client.post(
        "/signup", {"first_name": " Nia ", "team": "YELLOW"}, follow=True
    )
    user = User.objects.get()
    assert (user.email, user.first_name, user.team, user.role) == (
        "newbie@example.com",
        "Nia",
        "YELLOW",
        Role.MEMBER,
    )
    assert response.redirect_chain == [("/me", 302)]
    assert b"Welcome, Nia!" in response.content
    assert Session.objects.get().user == user
    assert onboarding_client.get("/signup")["Location"] == "/login"


def test_onboarding_goes_on_to_the_remembered_page(client):
    client.get(ask_for_link(client, "n@example.com", next="/blog/a-post/"))
    response = client.post("/signup", {"first_name": "Nia", "team": "RED"})
    assert response["Location"] == "/blog/a-post/"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"first_name": "", "team": "RED"}, b"Please tell us your first name."),
        ({"first_name": "   ", "team": "RED"}, b"Please tell us your first name."),
        ({"first_name": "x" * 61, "team": "RED"}, b"60 characters or fewer"),
        ({"first_name": "Nia"}, b"Please pick a team."),
        ({"first_name": "Nia", "team": "GREEN"}, b"Please pick a team."),
    ],
)
def test_bad_answers_re_render_with_a_message_and_keep_what_was_typed(
    onboarding_client, data, message
):
    response = onboarding_client.post("/signup", data)
    assert response.status_code == 400
    assert message in response.content
    assert not User.objects.exists()
    if data.get("first_name", "").strip() and len(data["first_name"]) <= 60:
        assert b'value="Nia"' in response.content


def test_sixty_characters_is_allowed(onboarding_client):
    onboarding_client.post("/signup", {"first_name": "x" * 60, "team": "RED"})
    assert User.objects.get().first_name == "x" * 60


def test_without_a_used_link_signup_sends_you_to_sign_in(client):
    response = client.post("/signup", {"first_name": "Sneaky", "team": "RED"})
    assert response["Location"] == "/login"
    assert not User.objects.exists()


def test_finishing_onboarding_twice_in_two_tabs_keeps_one_account(client):
    client.get(ask_for_link(client, "twice@example.com"))
    session = client.session
    pending = session["accounts.onboarding"]
    client.post("/signup", {"first_name": "First", "team": "RED"})
    # The second tab still holds the onboarding state.
    second_tab = type(client)()
    second_session = second_tab.session
    second_session["accounts.onboarding"] = pending
    second_session.save()
    second_tab.cookies["litesite_session"] = second_session.session_key
    second_tab.post("/signup", {"first_name": "Second", "team": "BLUE"})
    assert User.objects.get().first_name == "First"
    assert Session.objects.filter(user__email="twice@example.com").count() == 2


def test_onboarding_must_be_finished_within_an_hour_of_opening_the_link(client):
    with time_machine.travel(dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC), tick=False) as clock:
        client.get(ask_for_link(client, "slow@example.com"))
        clock.shift(dt.timedelta(minutes=61))
        response = client.post("/signup", {"first_name": "Slow", "team": "RED"})
    assert response["Location"] == "/login"
    assert not User.objects.exists()
    assert b"took over an hour" in client.get("/login").content
    assert client.get("/signup")["Location"] == "/login"
