"""The calls' sections of a reader's personal data (see accounts/personal_data.py; registered in
calls/apps.py): the calls they recorded, and the record of their uploads kept for a day for the
upload budget. Recorded audio is described, not included, to keep the download small."""

from calls.models import Call, CallUpload


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def export(*, user) -> list[dict]:
    calls = Call.objects.owned_by(user).order_by("-created_at").defer("audio")
    return [
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
    ]


def delete(*, user) -> None:
    Call.objects.owned_by(user).delete()


def export_uploads(*, user) -> list[dict]:
    uploads = CallUpload.objects.by(user).order_by("-created_at")
    return [
        {"created_at": _iso(upload.created_at), "size_bytes": upload.size_bytes}
        for upload in uploads
    ]


def delete_uploads(*, user) -> None:
    CallUpload.objects.by(user).delete()
