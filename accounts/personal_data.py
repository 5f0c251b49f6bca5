"""Everything the site holds about one reader: exported on request, deleted on request."""

from django.db import transaction

from accounts.models import MagicLink, Session, User
from blog import leaderboard
from blog.models import PostRead
from calls.models import Call


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def export_personal_data(*, user: User, current_session_key: str | None = None) -> dict:
    """A JSON-ready dict of the reader's account, sessions, post reads and calls.

    Session keys are left out (they are credentials); recorded audio is described, not
    included, to keep the download small.
    """
    sessions = Session.objects.for_user(user).order_by("created_at")
    reads = PostRead.objects.filter(user=user).order_by("-created_at")
    calls = Call.objects.filter(user=user).order_by("-created_at").defer("audio")
    return {
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
        "post_reads": [
            {"id": read.id, "post_slug": read.post_slug, "read_at": _iso(read.created_at)}
            for read in reads
        ],
        "calls": [
            {
                "id": call.id,
                "title": call.title,
                "description": call.description,
                "keywords": call.keywords,
                "audio_mime_type": call.audio_mime_type,
                "duration_seconds": call.duration_seconds,
                "created_at": _iso(call.created_at),
                "updated_at": _iso(call.updated_at),
            }
            for call in calls
        ],
    }


def delete_personal_data(*, user: User) -> None:
    """Delete the reader and everything that belongs to them.

    Sessions, post reads and calls go with the user row (ON DELETE CASCADE); sign-in links
    are keyed by email rather than by user, so they are deleted by address.
    """
    with transaction.atomic():
        MagicLink.objects.for_email(user.email).delete()
        user.delete()
        # The reader's reads no longer count for their team, on any machine.
        leaderboard.standings_changed()
