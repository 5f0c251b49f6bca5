"""/me/delete: deleting an account and everything that belongs to it (accounts' own tables, and
the sections apps register in accounts.personal_data)."""

import pytest
from django.test import Client

from accounts import personal_data
from accounts.models import MagicLink, Session, User
from testing.fixtures import ask_for_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def readers_things(reader):
    phone = Client()
    phone.force_login(reader)
    ask_for_link(Client(), "ada@example.com")
    stranger = User.objects.create(email="s@example.com", first_name="S", team="RED")
    ask_for_link(Client(), "s@example.com")
    return stranger


def test_the_page_explains_what_will_be_deleted(reader_client):
    response = reader_client.get("/me/delete")
    assert b"your recorded calls" in response.content
    assert b"Type your email address to confirm" in response.content


def test_a_wrong_confirmation_deletes_nothing(reader_client, reader, readers_things):
    response = reader_client.post("/me/delete", {"confirm_email": "someone@else.com"})
    assert response.status_code == 400
    assert b"nothing was deleted" in response.content
    assert User.objects.filter(pk=reader.pk).exists()
    assert reader_client.get("/me").status_code == 200


def test_confirming_deletes_the_user_sessions_and_sign_in_links(
    reader_client, reader, readers_things
):
    stranger = readers_things
    response = reader_client.post("/me/delete", {"confirm_email": "ADA@example.com"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert b"Your account and everything" in reader_client.get("/login").content
    assert not User.objects.filter(pk=reader.pk).exists()
    assert not Session.objects.filter(user__isnull=False).exists()
    assert not MagicLink.objects.filter(email="ada@example.com").exists()
    assert User.objects.filter(pk=stranger.pk).exists()
    assert MagicLink.objects.filter(email="s@example.com").exists()
    assert reader_client.get("/me").status_code == 302


def test_each_registered_section_deletes_the_readers_data_first(
    reader_client, reader, registered_sections
):
    seen = []
    personal_data.register(
        "notes",
        export=lambda *, user: [],
        delete=lambda *, user: seen.append(User.objects.filter(pk=user.pk).exists()),
    )
    reader_client.post("/me/delete", {"confirm_email": "ada@example.com"})
    assert seen == [True]  # called for this reader, while the user row was still there
    assert not User.objects.filter(pk=reader.pk).exists()


def test_a_section_that_fails_leaves_the_whole_account_in_place(
    reader_client, reader, readers_things, registered_sections
):
    def fail(*, user):
        raise RuntimeError("the notes could not be deleted")

    personal_data.register("notes", export=lambda *, user: [], delete=fail)
    with pytest.raises(RuntimeError):
        personal_data.delete_personal_data(user=reader)
    assert User.objects.filter(pk=reader.pk).exists()
    assert MagicLink.objects.filter(email="ada@example.com").exists()
    assert Session.objects.filter(user=reader).count() == 2


def test_a_get_never_deletes(reader_client, reader):
    reader_client.get("/me/delete?confirm_email=ada@example.com")
    assert User.objects.filter(pk=reader.pk).exists()
