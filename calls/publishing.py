"""Turning a call and its staff response into a published episode.

Everything that can be checked without ffmpeg is checked first: a response exists, the words
are plain text (they go into an email subject and the podcast feed), the caller's email can be
built, the disk has room. ffmpeg then runs outside any transaction (it takes seconds, and
SQLite has one writer), within the time and temporary-disk budget calls.audio gives it. Only
when it has succeeded does one transaction create the episode, email the caller and delete the
call: if any of those fails, none of them happened and the call is still there.
"""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from calls import audio, limits
from calls.models import Call, Episode
from calls.text import one_line
from litesite import metrics

logger = logging.getLogger(__name__)

TEXT_FIELDS = ("title", "description", "keywords")


class CannotPublish(Exception):
    """The call is not ready or changed meanwhile; the message is for staff."""


class CallerNotEmailed(CannotPublish):
    """Sending the caller's email failed, whatever the reason; nothing was published."""


@metrics.timed_publishing
def publish_call(*, call: Call) -> Episode:
    """Assemble, store and announce the episode for `call`; the call is deleted.

    Raises CannotPublish (CallerNotEmailed when the email could not be sent), limits.StorageLow,
    or audio.AudioProcessingError with ffmpeg's reason. In every case the database is untouched.
    """
    parts_seconds = _check_ready(call)
    assert call.response_audio is not None  # _check_ready refused a call without a response
    assembled = audio.assemble_episode(
        call_audio=bytes(call.audio),
        response_audio=bytes(call.response_audio),
        title=call.title,
        parts_seconds=parts_seconds,
    )
    with transaction.atomic():
        # Another staff member may have published, discarded or re-answered it while ffmpeg ran.
        if not Call.objects.filter(pk=call.pk, updated_at=call.updated_at).exists():
            raise CannotPublish(
                "This call changed while its episode was being made. Check it and publish again."
            )
        limits.check_storage(incoming_bytes=assembled.size_bytes)
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
            # The name goes into the feed's XML: no control characters, whatever accounts stored.
            caller_name=one_line(call.user.first_name),
        )
        try:
            _caller_email(call=call, episode=episode).send(fail_silently=False)
        except Exception as error:
            # Any backend, any failure (SMTP, TLS, DNS, a timeout, a refused address): staff
            # must see it, and the transaction must roll back.
            logger.exception("Could not email the caller of call %s", call.pk)
            raise CallerNotEmailed(
                f"Nothing was published: the caller could not be emailed ({error})."
            ) from error
        call.delete()
    return episode


def _check_ready(call: Call) -> float:
    """Refuse before any ffmpeg work what would fail after it. Returns the parts' length."""
    if not call.has_response:
        raise CannotPublish("Record or upload a response before publishing this call.")
    exclude = [f.name for f in Call._meta.fields if f.name not in TEXT_FIELDS]
    try:
        call.clean_fields(exclude=exclude)
    except ValidationError as error:
        problems = "; ".join(
            f"{name}: {' '.join(messages)}" for name, messages in error.message_dict.items()
        )
        raise CannotPublish(
            f"Correct this call in the admin before publishing it ({problems})."
        ) from error
    parts_seconds = call.duration_seconds + (call.response_duration_seconds or 0)
    expected = parts_seconds + 2 * audio.DEFAULT_CLIP_SECONDS
    limits.check_storage(incoming_bytes=int(expected * audio.MP3_BYTES_PER_SECOND))
    # The email as it will be sent, with the number the episode would get now: building its
    # headers refuses an address no mail server would take.
    preview = Episode(number=Episode.objects.next_number(), title=call.title)
    try:
        _caller_email(call=call, episode=preview).message()
    except Exception as error:
        raise CannotPublish(
            f"The email to the caller cannot be sent ({error}). Nothing was published."
        ) from error
    return parts_seconds


def episode_email_subject(episode: Episode) -> str:
    # one_line(): a title stored before titles were checked may hold a line break, which in a
    # header would start a new one (Bcc: ...).
    return f"Your call is on the air: episode {episode.number}, “{one_line(episode.title)}”"


def _caller_email(*, call: Call, episode: Episode) -> EmailMessage:
    context = {
        "first_name": call.user.first_name,
        "episode": episode,
        "episode_url": settings.SITE_URL + episode.get_absolute_url(),
        "feed_url": settings.SITE_URL + reverse("calls:podcast-feed"),
        "author": settings.PODCAST_AUTHOR,
    }
    return EmailMessage(
        subject=episode_email_subject(episode),
        body=render_to_string("calls/email/episode_published.txt", context),
        to=[call.user.email],
    )
