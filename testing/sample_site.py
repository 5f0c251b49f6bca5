"""A sample site to look at in a browser: calls and an episode with real audio, so the players on
the pages load what they would in production.

For the browser tests that walk every page and for scripts/screenshots.py. It imports the apps'
models: import it once Django is set up (a test module does; the script after `django.setup()`).
"""

import subprocess
from pathlib import Path

from django.utils import timezone

from accounts.models import Role, Team, User
from calls.models import Call, Episode


def tone(path: Path, seconds: float = 1.0) -> bytes:
    """A 440 Hz tone of `seconds`, written to `path` in the format its extension names (.ogg,
    .mp3); the file's bytes."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", f"sine=frequency=440:duration={seconds}", str(path)],
        check=True,
    )  # fmt: skip
    return path.read_bytes()


def answered_call(
    reader: User,
    ogg: bytes,
    seconds: float,
    *,
    title: str = "Is one SQLite file enough?",
    description: str = "A question about running SQLite in production.",
    keywords: str = "sqlite, production",
) -> Call:
    """A pending call by `reader` with a staff response, both the Ogg recording `ogg`."""
    return Call.objects.create(
        user=reader,
        title=title,
        description=description,
        keywords=keywords,
        audio=ogg,
        audio_mime_type="audio/ogg",
        duration_seconds=seconds,
        response_audio=ogg,
        response_mime_type="audio/ogg",
        response_duration_seconds=seconds,
    )


def published_episode(mp3: bytes, seconds: float) -> Episode:
    """Episode 1, published now, from Ada's call, with the MP3 recording `mp3`."""
    return Episode.objects.create(
        number=1,
        title="Is SQLite web scale?",
        description="Ada asks whether one SQLite file is enough.",
        keywords="sqlite",
        published_at=timezone.now(),
        audio=mp3,
        duration_seconds=seconds,
        size_bytes=len(mp3),
        caller_name="Ada",
    )


def sample_site(folder: Path) -> dict:
    """A Red reader (Ada) with a pending call that has a response, a Red admin (Host, as
    `createadmin` makes them) and one published episode, with a second of audio each; the audio
    files are made in `folder`. Returns them as "reader", "staff", "call" and "episode"."""
    reader = User.objects.create(email="ada@example.com", first_name="Ada", team=Team.RED)
    staff = User.objects.create(
        email="host@example.com", first_name="Host", team=Team.RED, role=Role.ADMIN
    )
    call = answered_call(reader, tone(folder / "tone.ogg"), 1.0)
    episode = published_episode(tone(folder / "tone.mp3"), 1.0)
    return {"reader": reader, "staff": staff, "call": call, "episode": episode}
