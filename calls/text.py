"""What callers type: plain text only, because it ends up in email headers, XML feeds and audio
metadata.

A line break in a title is a header injection attempt in an email subject; most other control
characters are not allowed in XML 1.0 at all, so one of them in an episode would break the
podcast feed for every subscriber.
"""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

LINE_BREAKS = frozenset("\r\n\u2028\u2029")
# Textareas send CRLF line ends, and people paste tabs.
MULTILINE_ALLOWED = frozenset("\r\n\t\u2028\u2029")


def _is_control(character: str) -> bool:
    # Cc: C0, DEL and C1 controls. Zl/Zp: the Unicode line and paragraph separators, which
    # Python's splitlines() and some mail software treat as line breaks.
    return unicodedata.category(character) in ("Cc", "Zl", "Zp")


def control_characters(text: str, *, multiline: bool = False) -> list[str]:
    """The control characters in `text`, in order, without repeats; line breaks and tabs are
    fine in multi-line text."""
    allowed = MULTILINE_ALLOWED if multiline else frozenset()
    found = dict.fromkeys(ch for ch in text if _is_control(ch) and ch not in allowed)
    return list(found)


_CONTROL_OR_SPACE_RUN = re.compile(r"[\s\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str) -> str:
    """`text` with every run of whitespace and control characters turned into one space: safe in
    an email header whatever was stored before validation existed."""
    return _CONTROL_OR_SPACE_RUN.sub(" ", text).strip()


@deconstructible
class PlainText:
    """A validator: no control characters; line breaks and tabs only where `multiline`."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value: str) -> None:
        found = control_characters(value, multiline=self.multiline)
        if not found:
            return
        if any(ch in LINE_BREAKS for ch in found):
            raise ValidationError(
                "Keep this to one line: remove the line break.", code="line_break"
            )
        names = ", ".join(f"U+{ord(ch):04X}" for ch in found)
        raise ValidationError(
            "Remove the invisible control character (%(names)s) from this text.",
            code="control_character",
            params={"names": names},
        )

    def __eq__(self, other):
        return isinstance(other, PlainText) and other.multiline == self.multiline
