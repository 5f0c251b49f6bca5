"""manage.py createadmin EMAIL: creates or promotes an admin without asking anything."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Role, Team, User

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command("createadmin", *args, stdout=out)
    return out.getvalue()


def test_a_new_email_becomes_an_admin_with_defaults_from_the_address():
    output = run("ada.lovelace@example.com")
    user = User.objects.get()
    assert (user.role, user.first_name, user.team) == (Role.ADMIN, "Ada", Team.RED)
    assert "Created admin ada.lovelace@example.com" in output


def test_first_name_and_team_can_be_given():
    run("ada@example.com", "--first-name", "Augusta", "--team", "yellow")
    user = User.objects.get()
    assert (user.first_name, user.team) == ("Augusta", Team.YELLOW)


def test_an_existing_member_is_promoted_and_keeps_their_details(make_user):
    # Details the address would not give: "rita" and the default team are not what it keeps.
    member = make_user(Team.BLUE, email="rita@example.com", first_name="Margarita")
    output = run("RITA@example.com")
    member.refresh_from_db()
    assert (member.role, member.first_name, member.team) == (Role.ADMIN, "Margarita", Team.BLUE)
    assert "Updated rita@example.com: role" in output
    assert User.objects.count() == 1


def test_running_it_again_changes_nothing(staff_user):
    assert "already an admin; nothing to change" in run("host@example.com")


def test_dry_run_reports_without_writing(reader):
    output = run("ada@example.com", "--dry-run")
    assert output.startswith("[dry run] Updated ada@example.com")
    reader.refresh_from_db()
    assert reader.role == Role.MEMBER
    run("new@example.com", "--dry-run")
    assert not User.objects.filter(email="new@example.com").exists()


@pytest.mark.parametrize("email", ["not-an-email", "a@b@c", ""])
def test_a_bad_email_fails_with_a_clear_sentence(email):
    with pytest.raises(CommandError, match="is not a valid email address"):
        run(email)
    assert not User.objects.exists()


def test_an_unknown_team_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        run("a@example.com", "--team", "GREEN")


def test_a_too_long_first_name_is_refused():
    with pytest.raises(CommandError, match="1 to 60 characters"):
        run("a@example.com", "--first-name", "x" * 61)
