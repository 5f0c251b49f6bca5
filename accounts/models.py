"""Reader accounts: users without passwords, and database sessions that know their user."""

import uuid

from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.db.models.functions import Lower


def new_uuid() -> str:
    return str(uuid.uuid4())


class Role(models.TextChoices):
    ADMIN = "ADMIN", "Admin"
    MEMBER = "MEMBER", "Member"


class Team(models.TextChoices):
    RED = "RED", "Red"
    BLUE = "BLUE", "Blue"
    YELLOW = "YELLOW", "Yellow"


class UserQuerySet(models.QuerySet):
    def with_email(self, email: str):
        """Emails are compared case-insensitively for sign-in."""
        return self.filter(email__iexact=email.strip())

    def admins(self):
        return self.filter(role=Role.ADMIN)


class User(models.Model):
    """A reader. There is no password: sign-in is by magic link only.

    Django's auth machinery needs only a handful of attributes from a user model; they are
    provided here directly, with staff rights derived from the role.
    """

    id = models.CharField(primary_key=True, max_length=36, default=new_uuid, editable=False)
    email = models.EmailField(unique=True, max_length=254)
    first_name = models.CharField(max_length=60)
    discord_id = models.CharField(max_length=64, blank=True, null=True)
    convert_kit_id = models.CharField(max_length=64, blank=True, null=True)
    role = models.CharField(max_length=6, choices=Role.choices, default=Role.MEMBER)
    team = models.CharField(max_length=6, choices=Team.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserQuerySet.as_manager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "team"]

    is_active = True
    is_anonymous = False
    is_authenticated = True

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
            models.CheckConstraint(condition=models.Q(team__in=Team.values), name="user_team_valid"),
        ]

    def __str__(self) -> str:
        return self.email

    def get_username(self) -> str:
        return self.email

    def natural_key(self):
        return (self.email,)

    @property
    def is_staff(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_superuser(self) -> bool:
        return self.role == Role.ADMIN

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_superuser

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_superuser

    def has_module_perms(self, app_label) -> bool:
        return self.is_superuser


class Session(AbstractBaseSession):
    """A database session that knows its user, so a profile can list and end them."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="sessions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore

    class Meta(AbstractBaseSession.Meta):
        db_table = "accounts_session"
