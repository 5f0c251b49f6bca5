"""Reader accounts: users without passwords, and database sessions that know their user."""

import uuid
from typing import ClassVar

from django.contrib.sessions.base_session import AbstractBaseSession, BaseSessionManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


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


class User(models.Model):
    """A reader. There is no password: sign-in is by magic link only.

    Django's auth machinery needs only a handful of attributes from a user model; they are
    provided here directly, with staff rights derived from the role.
    """

    id = models.CharField(primary_key=True, max_length=36, default=new_uuid, editable=False)
    email = models.EmailField(unique=True, max_length=254)
    first_name = models.CharField(max_length=60)
    # NULL, not "", for "none": ids carried over from the Postgres site keep their meaning.
    discord_id = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001
    convert_kit_id = models.CharField(max_length=64, blank=True, null=True)  # noqa: DJ001
    role = models.CharField(max_length=6, choices=Role, default=Role.MEMBER)
    team = models.CharField(max_length=6, choices=Team)
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
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="user_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(team__in=Team.values), name="user_team_valid"
            ),
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


class SessionQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def other_than(self, session_key: str | None):
        return self.exclude(session_key=session_key)

    def live(self):
        return self.filter(expire_date__gt=timezone.now())


# Named at module level, where django-stubs can follow from_queryset().
SessionManager = BaseSessionManager.from_queryset(SessionQuerySet)


class Session(AbstractBaseSession):
    """A database session that knows its user, so a profile can list and end them."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, null=True, blank=True, related_name="sessions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects: ClassVar = SessionManager()

    def __str__(self) -> str:
        # Not the session key (Django's default): it is a credential, and the admin shows this.
        return f"session started {self.created_at:%Y-%m-%d %H:%M} UTC"

    @classmethod
    def get_session_store_class(cls):
        from accounts.sessions import SessionStore

        return SessionStore

    class Meta(AbstractBaseSession.Meta):  # type: ignore[name-defined]  # absent from the stubs
        db_table = "accounts_session"


class MagicLinkQuerySet(models.QuerySet):
    def for_email(self, email: str):
        return self.filter(email=email.strip().lower())

    def for_client_network(self, network: str):
        return self.filter(client_network=network)

    def created_since(self, moment):
        return self.filter(created_at__gte=moment)

    def created_before(self, moment):
        return self.filter(created_at__lt=moment)


class MagicLink(models.Model):
    """One emailed sign-in link.

    The row makes the link single-use (used_at) and browser-bound (browser_hash, a SHA-256 of
    the random cookie the requesting browser holds). The rows also serve as the rate-limit
    counters: how many links an email address, a client network, or the two together asked
    for lately (accounts/magic_links.py).
    The link's id is a random secret that travels only inside a signed, timestamped token.
    """

    id = models.CharField(primary_key=True, max_length=64, editable=False)
    email = models.EmailField(max_length=254, help_text="Lower-cased, as it was asked for")
    browser_hash = models.CharField(max_length=64)
    client_address = models.CharField(
        max_length=45, blank=True, help_text="The client's IP address, validated and normalised"
    )
    client_network = models.CharField(
        max_length=43,
        blank=True,
        help_text="What the limits count: the IPv4 address (/32) or the IPv6 /64 it belongs to",
    )
    next_url = models.CharField(max_length=2000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    objects = MagicLinkQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["email", "created_at"], name="magiclink_email_created"),
            models.Index(fields=["client_network", "created_at"], name="magiclink_net_created"),
            models.Index(fields=["created_at"], name="magiclink_created"),
        ]

    def __str__(self) -> str:
        return f"sign-in link for {self.email}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None
