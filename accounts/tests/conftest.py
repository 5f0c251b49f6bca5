import re

import pytest
from django.core import mail

from accounts import personal_data
from accounts.models import Role, Team, User

LINK_PATTERN = re.compile(r"https?://\S+/magic\?token=\S+")


@pytest.fixture
def reader(db):
    return User.objects.create(email="reader@example.com", first_name="Rita", team=Team.BLUE)


@pytest.fixture
def admin_user(db):
    return User.objects.create(
        email="boss@example.com", first_name="Bea", team=Team.RED, role=Role.ADMIN
    )


@pytest.fixture
def registered_sections():
    """Personal-data sections a test registers are forgotten afterwards; the apps' stay."""
    kept = dict(personal_data._sections)
    yield
    personal_data._sections.clear()
    personal_data._sections.update(kept)


@pytest.fixture
def signed_in_client(client, reader):
    client.force_login(reader, backend="accounts.backends.MagicLinkBackend")
    return client


def emailed_link_path(message=None) -> str:
    """The path and query of the sign-in link in the newest (or given) email."""
    message = message or mail.outbox[-1]
    url = LINK_PATTERN.search(message.body).group(0)
    return url[url.index("/magic") :]


def ask_for_link(client, email="reader@example.com", **extra) -> str:
    """POST the sign-in form like a browser would; return the emailed link's path."""
    response = client.post("/login", {"email": email, **extra})
    assert response.status_code == 302, response.content
    return emailed_link_path()
