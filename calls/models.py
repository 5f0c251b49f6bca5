"""Recorded calls from readers, and the podcast episodes made from them."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Length, Substr
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from calls.text import PlainText


def new_uuid() -> str:
    return str(uuid.uuid4())


def clock(seconds: float) -> str:
    """A duration as people read it on a player: 4:05, or 1:02:03 past an hour."""
    minutes, seconds = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def split_keywords(text: str) -> list[str]:
    """Keywords are typed comma-separated; blanks between commas are not keywords."""
    return [word.strip() for word in text.split(",") if word.strip()]


class RecordingQuerySet(models.QuerySet):
    """Reads parts of stored recordings inside SQLite, not in Python.

    A player seeking through a long recording asks for many small ranges; loading the whole blob
    for each would waste memory on every request.
    """

    def with_size(self, field: str = "audio"):
        return self.annotate(**{f"{field}_size": Length(field)})

    def blob_slice(self, field: str = "audio", *, start: int, length: int) -> bytes | None:
        """Bytes [start, start + length) of the first row's `field`, or None without a row."""
        chunk = (
            self.annotate(chunk=Substr(field, start + 1, length, output_field=models.BinaryField()))
            .values_list("chunk", flat=True)
            .first()
        )
        return None if chunk is None else bytes(chunk)


class CallQuerySet(RecordingQuerySet):
    def owned_by(self, user):
        """A reader's own calls: nobody else's are ever visible to them."""
        return self.filter(user=user)

    def waiting_count(self, user) -> int:
        """How many of `user`'s calls wait for an answer: every stored call does (a published
        call becomes an episode and is deleted)."""
        return self.owned_by(user).count()

    def pending(self):
        """Calls waiting for staff, oldest first so nobody waits forever."""
        return self.select_related("user").order_by("created_at")

    def without_audio(self):
        """Lists never need the recordings themselves; leave the bytes in the database."""
        return self.defer("audio", "response_audio")


class Call(models.Model):
    """A reader's recorded question, waiting for a staff response."""

    id = models.CharField(primary_key=True, max_length=36, default=new_uuid, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    title = models.CharField(max_length=80, validators=[PlainText()])
    description = models.TextField(max_length=1000, validators=[PlainText(multiline=True)])
    keywords = models.CharField(max_length=100, validators=[PlainText()])
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calls"
    )
    audio = models.BinaryField()
    audio_mime_type = models.CharField(max_length=100)
    duration_seconds = models.FloatField(default=0)
    # Staff record their answer first and publish after listening to it, so it is kept here.
    response_audio = models.BinaryField(null=True, blank=True)
    response_mime_type = models.CharField(max_length=100, blank=True)
    response_duration_seconds = models.FloatField(null=True, blank=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("calls:call-detail", args=[self.pk])

    def get_staff_url(self) -> str:
        return reverse("calls:staff-call", args=[self.pk])

    @property
    def duration_clock(self) -> str:
        return clock(self.duration_seconds)

    @property
    def response_duration_clock(self) -> str:
        return clock(self.response_duration_seconds or 0)

    @property
    def has_response(self) -> bool:
        return bool(self.response_mime_type)

    def keyword_list(self) -> list[str]:
        return split_keywords(self.keywords)


class CallUploadQuerySet(models.QuerySet):
    def by(self, user):
        return self.filter(user=user)

    def since(self, moment):
        return self.filter(created_at__gte=moment)

    def before(self, moment):
        return self.filter(created_at__lt=moment)

    def total_bytes(self) -> int:
        return self.aggregate(total=models.Sum("size_bytes"))["total"] or 0


class CallUpload(models.Model):
    """One recording a reader sent as a call, kept for a day to count against their upload budget.

    Separate from the call itself so that deleting a call (or having it published) does not give
    its bytes back: every upload was written to the database and shipped to every replica.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="call_uploads",
        db_index=False,  # (user, created_at) below serves lookups by user
    )
    created_at = models.DateTimeField(default=timezone.now)
    size_bytes = models.PositiveIntegerField()

    objects = CallUploadQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["user", "created_at"]),
            # Rows older than the budget's window are deleted across all readers.
            models.Index(fields=["created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.size_bytes} bytes from {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"


class EpisodeQuerySet(RecordingQuerySet):
    def without_audio(self):
        return self.defer("audio")

    def next_number(self) -> int:
        return (self.aggregate(highest=models.Max("number"))["highest"] or 0) + 1


class Episode(models.Model):
    """A published call: intro + call + staff response + outro, as one MP3."""

    number = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=80, validators=[PlainText()])
    description = models.TextField(max_length=1000, validators=[PlainText(multiline=True)])
    keywords = models.CharField(max_length=100, validators=[PlainText()])
    published_at = models.DateTimeField()
    audio = models.BinaryField()
    audio_mime_type = models.CharField(max_length=100, default="audio/mpeg")
    duration_seconds = models.FloatField()
    size_bytes = models.PositiveIntegerField()
    caller_name = models.CharField(max_length=60)

    objects = EpisodeQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("calls:episode-detail", args=[self.number, self.slug])

    @property
    def duration_clock(self) -> str:
        return clock(self.duration_seconds)

    @property
    def slug(self) -> str:
        # Titles may be all punctuation or non-Latin; the URL still needs a path segment.
        return slugify(self.title) or "episode"

    def get_audio_url(self) -> str:
        return reverse("calls:episode-audio", args=[self.number, self.slug])

    def keyword_list(self) -> list[str]:
        return split_keywords(self.keywords)
