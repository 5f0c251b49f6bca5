"""Turning a call and its staff response into a published episode.

ffmpeg runs first, outside any transaction (it takes seconds, and SQLite has one writer).
Only when it has succeeded does one transaction create the episode, email the caller and
delete the call: if any of those fails, none of them happened and the call is still there.
"""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from calls import audio
from calls.models import Call, Episode


class CannotPublish(Exception):
    """The call is not ready or changed meanwhile; the message is for staff."""


def publish_call(*, call: Call) -> Episode:
    """Assemble, store and announce the episode for `call`; the call is deleted.

    Raises CannotPublish, or audio.AudioProcessingError with ffmpeg's reason. In both cases
    the database is untouched.
    """
    if not call.has_response:
        raise CannotPublish("Record or upload a response before publishing this call.")
    assembled = audio.assemble_episode(
        call_audio=bytes(call.audio), response_audio=bytes(call.response_audio), title=call.title
    )
    with transaction.atomic():
        # Another staff member may have published, discarded or re-answered it while ffmpeg ran.
        if not Call.objects.filter(pk=call.pk, updated_at=call.updated_at).exists():
            raise CannotPublish(
                "This call changed while its episode was being made. Check it and publish again."
            )
        episode = Episode.objects.create(
            number=Episode.objects.next_number(),
            title=call.title,
            description=call.description,
            keywords=call.keywords,
            published_at=timezone.now(),
            audio=assembled.audio,
            audio_mime_type=assembled.mime_type,
            duration_seconds=assembled.duration_seconds,
            size_bytes=assembled.size_bytes,
            caller_name=call.user.first_name,
        )
        _email_caller(call=call, episode=episode)
        call.delete()
    return episode


def _email_caller(*, call: Call, episode: Episode) -> None:
    context = {
        "first_name": call.user.first_name,
        "episode": episode,
        "episode_url": settings.SITE_URL + episode.get_absolute_url(),
        "feed_url": settings.SITE_URL + reverse("calls:podcast-feed"),
        "author": settings.PODCAST_AUTHOR,
    }
    send_mail(
        subject=f"Your call is on the air: episode {episode.number}, “{episode.title}”",
        message=render_to_string("calls/email/episode_published.txt", context),
        from_email=None,
        recipient_list=[call.user.email],
        fail_silently=False,
    )
