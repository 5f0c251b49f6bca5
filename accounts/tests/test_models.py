import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import Role, Team, User

INSERT = (
    "INSERT INTO accounts_user (id, email, first_name, role, team, created_at, updated_at) "
    "VALUES (%s, %s, 'Raw', %s, %s, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
)


def raw_insert(*, email="raw@example.com", role="MEMBER", team="RED", id="u-1"):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(INSERT, [id, email, role, team])


@pytest.mark.django_db
def test_raw_sql_can_store_a_valid_role_and_team():
    raw_insert()
    assert User.objects.get(pk="u-1").team == Team.RED


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["SUPERUSER", "admin", ""])
def test_raw_sql_cannot_store_an_unknown_role(role):
    with pytest.raises(IntegrityError, match="user_role_valid"):
        raw_insert(role=role)


@pytest.mark.django_db
@pytest.mark.parametrize("team", ["GREEN", "red", ""])
def test_raw_sql_cannot_store_an_unknown_team(team):
    with pytest.raises(IntegrityError, match="user_team_valid"):
        raw_insert(team=team)


@pytest.mark.django_db
def test_raw_sql_cannot_update_a_team_to_an_unknown_value():
    raw_insert()
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_user SET team = 'PURPLE' WHERE id = 'u-1'")


@pytest.mark.django_db
def test_emails_are_unique_regardless_of_case():
    raw_insert(email="Ada@Example.com", id="u-1")
    with pytest.raises(IntegrityError):
        raw_insert(email="ada@example.com", id="u-2")


@pytest.mark.django_db
def test_sign_in_lookup_ignores_case_and_surrounding_spaces(reader):
    assert User.objects.with_email("  ADA@example.COM ").get() == reader


@pytest.mark.django_db
def test_ids_are_36_character_uuid_strings(reader):
    assert len(reader.pk) == 36 and reader.pk.count("-") == 4


@pytest.mark.django_db
def test_admins_are_staff_and_superusers_and_members_are_neither(reader, staff_user):
    assert staff_user.role == Role.ADMIN
    assert staff_user.is_staff and staff_user.is_superuser
    assert staff_user.has_perm("accounts.delete_user")
    assert not reader.is_staff and not reader.is_superuser
    assert not reader.has_perm("accounts.delete_user")
    assert not reader.has_module_perms("accounts")
