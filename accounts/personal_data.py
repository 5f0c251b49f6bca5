"""Everything the site holds about one reader: exported on request, deleted on request.

accounts knows its own tables: the user, their sessions, their sign-in links. Every other app
that keeps something about a reader registers a section here from its `AppConfig.ready()`
(blog/apps.py: post reads; calls/apps.py: recorded calls), so that accounts never imports them.
A section names a key of the export (`/me/download.json`) and says how to export and delete
what it holds for a user.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from accounts.models import MagicLink, Session, User

# The export's own keys, which no app's section may take.
ACCOUNT_KEYS = frozenset({"user", "sessions"})


@dataclass(frozen=True)
class Section:
    """One app's share of a reader's data.

    `export(user=...)` returns something JSON can encode; `delete(user=...)` removes it, inside
    the account deletion's transaction, before the user row goes.
    """

    name: str
    export: Callable[..., Any]
    delete: Callable[..., None]


_sections: dict[str, Section] = {}


def register(name: str, *, export: Callable[..., Any], delete: Callable[..., None]) -> None:
    """Add an app's section (from its AppConfig.ready()). Registering a name again replaces
    it: Django may run ready() twice when tests change the installed apps."""
    if name in ACCOUNT_KEYS:
        raise ImproperlyConfigured(f"{name!r} is accounts' own key in the personal data export.")
    _sections[name] = Section(name=name, export=export, delete=delete)


def sections() -> list[Section]:
    """The registered sections, in the order they were registered (INSTALLED_APPS order)."""
    return list(_sections.values())


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def export_personal_data(*, user: User, current_session_key: str | None = None) -> dict:
    """A JSON-ready dict of the reader's account and sessions, then each app's section.

    Session keys are left out (they are credentials).
    """
    sessions = Session.objects.for_user(user).order_by("created_at")
    data = {
        "user": {
            "id": user.id,
            "email": user.email,
            "first_name": user.first_name,
            "team": user.team,
            "role": user.role,
            "discord_id": user.discord_id,
            "convert_kit_id": user.convert_kit_id,
            "created_at": _iso(user.created_at),
            "updated_at": _iso(user.updated_at),
        },
        "sessions": [
            {
                "created_at": _iso(session.created_at),
                "expires_at": _iso(session.expire_date),
                "is_this_browser": session.session_key == current_session_key,
            }
            for session in sessions
        ],
    }
    for section in sections():
        data[section.name] = section.export(user=user)
    return data


def delete_personal_data(*, user: User) -> None:
    """Delete the reader and everything that belongs to them, in one transaction.

    Each app's section deletes its own rows first; sessions go with the user row (ON DELETE
    CASCADE); sign-in links are keyed by email rather than by user, so they are deleted by
    address. Apps that react to any deleted user (blog's standings) do so through the user
    model's `post_delete` signal, which Django sends inside this transaction.
    """
    with transaction.atomic():
        for section in sections():
            section.delete(user=user)
        MagicLink.objects.for_email(user.email).delete()
        user.delete()
