"""Fixtures for the calls tests: real audio made by ffmpeg, a small real file system, calls and
episodes made directly."""

import os
import subprocess
from pathlib import Path

import pytest

from calls.tests.media import CODECS, run_ffmpeg


@pytest.fixture(scope="session")
def make_audio(tmp_path_factory):
    """make_audio(seconds, kind=..., frequency=..., leading_silence=..., volume=...) -> bytes.

    A sine tone, optionally after some silence, encoded as `kind`. Cached for the session.
    """
    folder = tmp_path_factory.mktemp("audio")

    def make(seconds=2.0, *, kind="wav", frequency=440, leading_silence=0.0, volume=0.5):
        path = folder / f"{seconds}-{frequency}-{leading_silence}-{volume}.{kind}"
        if not path.exists():
            tone = (
                f"sine=frequency={frequency}:duration={seconds}:sample_rate=48000,volume={volume}"
            )
            if leading_silence:
                graph = (
                    f"anullsrc=r=48000:cl=mono,atrim=duration={leading_silence}[s];"
                    f"{tone}[t];[s][t]concat=n=2:v=0:a=1"
                )
            else:
                graph = tone
            run_ffmpeg("-y", "-filter_complex", graph, *CODECS[kind], str(path))
        return path.read_bytes()

    return make


@pytest.fixture
def small_tmpfs(tmp_path):
    """small_tmpfs(megabytes) -> Path: a real, small file system (tmpfs), unmounted afterwards.

    Needs root (as on the CI machines and in the container); skipped elsewhere.
    """
    mounted = []

    def mount(megabytes: int) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        folder = tmp_path / f"tmpfs-{len(mounted)}"
        folder.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
            capture_output=True,
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.fixture
def make_call(make_audio):
    """A stored call (with a response when asked), made directly: the views are tested elsewhere."""
    from calls.models import Call

    def make(user, *, title="Why is SQLite enough?", seconds=2.0, response_seconds=None, **fields):
        call = Call.objects.create(
            user=user,
            title=title,
            description=fields.pop("description", "A question about running SQLite in production."),
            keywords=fields.pop("keywords", "sqlite, litefs"),
            audio=make_audio(seconds, kind="ogg"),
            audio_mime_type="audio/ogg",
            duration_seconds=seconds,
            **fields,
        )
        if response_seconds:
            call.response_audio = make_audio(response_seconds, kind="mp3", frequency=330)
            call.response_mime_type = "audio/mpeg"
            call.response_duration_seconds = response_seconds
            call.save()
        return call

    return make


@pytest.fixture
def make_episode(make_audio):
    """A stored episode with a real (short) MP3, made directly."""
    from django.utils import timezone

    from calls.models import Episode

    def make(number=1, *, title="Is SQLite web scale?", seconds=2.0, **fields):
        data = make_audio(seconds, kind="mp3", frequency=500 + number)
        return Episode.objects.create(
            number=number,
            title=title,
            description=fields.pop("description", "Ada asks whether one SQLite file is enough."),
            keywords=fields.pop("keywords", "sqlite, scaling"),
            published_at=fields.pop("published_at", timezone.now()),
            audio=data,
            duration_seconds=seconds,
            size_bytes=len(data),
            caller_name=fields.pop("caller_name", "Ada"),
            **fields,
        )

    return make
