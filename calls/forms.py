"""Forms for calls: the reader's call and the staff response. Recordings are checked by ffprobe."""

import logging
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.forms.utils import ErrorDict
from django.template.defaultfilters import filesizeformat

from calls import audio, limits
from calls.models import Call, clock, split_keywords
from calls.text import PlainText

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recording:
    data: bytes
    mime_type: str
    duration_seconds: float


class RecordingField(forms.FileField):
    """A recording checked by its bytes: size, then ffprobe's verdict, then its measured length."""

    default_error_messages = {
        "required": "Record your call, or choose an audio file to upload.",
        "empty": "The recording is empty.",
        "too_large": "This recording is larger than the %(limit)s limit.",
        "too_long": "This recording lasts %(duration)s; the limit is %(limit)s.",
        "unchecked": "We could not check this recording just now. Please try again.",
    }

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is None:
            return None
        if upload.size > settings.CALLS_MAX_BYTES:
            raise forms.ValidationError(
                self.error_messages["too_large"],
                code="too_large",
                params={"limit": filesizeformat(settings.CALLS_MAX_BYTES)},
            )
        content = upload.read()
        if not content:
            raise forms.ValidationError(self.error_messages["empty"], code="empty")
        try:
            probed = audio.examine(content, max_seconds=settings.CALLS_MAX_SECONDS)
        except audio.NotAudio as error:
            raise forms.ValidationError(str(error), code="not_audio") from error
        except audio.AudioProcessingError as error:
            logger.error("Could not probe an uploaded recording: %s", error)
            raise forms.ValidationError(
                self.error_messages["unchecked"], code="unchecked"
            ) from error
        if probed.at_least or probed.duration_seconds > settings.CALLS_MAX_SECONDS:
            duration = clock(probed.duration_seconds)
            raise forms.ValidationError(
                self.error_messages["too_long"],
                code="too_long",
                params={
                    "duration": f"more than {duration}" if probed.at_least else duration,
                    "limit": clock(settings.CALLS_MAX_SECONDS),
                },
            )
        return Recording(content, probed.mime_type, probed.duration_seconds)


class RecordingForm(forms.Form):
    """Base for forms with an `audio` recording; knows about uploads cut off for their size."""

    audio = RecordingField(
        label="Recording",
        widget=forms.ClearableFileInput(attrs={"accept": "audio/*"}),
    )

    def __init__(self, *args, oversized=(), body_too_large=False, refusal=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.oversized = set(oversized)
        self.body_too_large = body_too_large
        # A limits.LimitReached known before the form is cleaned: nothing can be accepted now.
        self.refusal = refusal
        limit = filesizeformat(settings.CALLS_MAX_BYTES)
        self.fields["audio"].help_text = (
            f"WebM, Ogg, MP3, WAV, FLAC or M4A; at most {clock(settings.CALLS_MAX_SECONDS)} "
            f"long and {limit}."
        )

    # The recorder script stops and checks at the same limits the server enforces.
    @property
    def max_seconds(self) -> int:
        return settings.CALLS_MAX_SECONDS

    @property
    def max_bytes(self) -> int:
        return settings.CALLS_MAX_BYTES

    @property
    def max_duration(self) -> str:
        return clock(settings.CALLS_MAX_SECONDS)

    def full_clean(self):
        if self.refusal is None:
            return super().full_clean()
        # Say why at once, keeping what was typed, without running ffprobe on the recording.
        self._errors = ErrorDict()
        self.cleaned_data = {}
        self.add_error(None, self.refusal.as_validation_error())

    def refuse(self, refusal) -> None:
        """A limit reached while saving (another upload got there first): shown like the rest."""
        self.refusal = refusal
        self.add_error(None, refusal.as_validation_error())

    def clean(self):
        cleaned = super().clean()
        field = self.fields["audio"]
        if self.body_too_large:
            raise forms.ValidationError(
                "This submission is too large to accept. Please keep the recording under "
                f"{filesizeformat(settings.CALLS_MAX_BYTES)} and the text short.",
                code="body_too_large",
            )
        if "audio" in self.oversized:
            # The upload was cut off as it streamed in, so "required" would be misleading.
            self.errors.pop("audio", None)
            self.add_error(
                "audio",
                forms.ValidationError(
                    field.error_messages["too_large"],
                    code="too_large",
                    params={"limit": filesizeformat(settings.CALLS_MAX_BYTES)},
                ),
            )
        return cleaned


class CallForm(RecordingForm):
    title = forms.CharField(
        min_length=5,
        max_length=80,
        validators=[PlainText()],
        help_text="5 to 80 characters.",
        widget=forms.TextInput(attrs={"placeholder": "Why is SQLite enough?"}),
    )
    description = forms.CharField(
        min_length=20,
        max_length=1000,
        validators=[PlainText(multiline=True)],
        help_text="20 to 1,000 characters: what you ask, and anything we should know.",
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    keywords = forms.CharField(
        min_length=2,
        max_length=100,
        validators=[PlainText()],
        help_text="Comma-separated, 2 to 100 characters, e.g. sqlite, replication.",
    )
    field_order = ["title", "description", "keywords", "audio"]

    def clean_keywords(self):
        words = split_keywords(self.cleaned_data["keywords"])
        if not words:
            raise forms.ValidationError("Give at least one keyword.", code="no_keywords")
        keywords = ", ".join(words)
        if len(keywords) < 2:
            raise forms.ValidationError("Keywords need at least 2 characters.", code="too_short")
        # Checked again as stored ("a,b" is kept as "a, b"), so the limit holds for what is saved.
        if len(keywords) > 100:
            raise forms.ValidationError(
                f"Keywords are {len(keywords)} characters once separated by commas and spaces; "
                "keep them to 100.",
                code="too_long",
            )
        return keywords

    def save(self, *, user) -> Call:
        """Store the call; raises limits.LimitReached if a limit no longer allows it."""
        return limits.store_call(
            user=user,
            title=self.cleaned_data["title"],
            description=self.cleaned_data["description"],
            keywords=self.cleaned_data["keywords"],
            recording=self.cleaned_data["audio"],
        )


class ResponseForm(RecordingForm):
    """Staff's answer to a call, kept on the call until it is published."""

    def save(self, *, call: Call) -> Call:
        """Keep the response on the call; raises limits.StorageLow if the disk is short."""
        return limits.store_response(call=call, recording=self.cleaned_data["audio"])
