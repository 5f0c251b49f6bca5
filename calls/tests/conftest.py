"""Fixtures for the calls tests: real audio made by ffmpeg, readers and staff, signed-in clients."""

import json
import os
import re
import struct
import subprocess
from pathlib import Path

import pytest

from accounts.models import Role, Team, User

CODECS = {
    "wav": ["-c:a", "pcm_s16le"],
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k"],
    "ogg": ["-c:a", "libvorbis"],
    "webm": ["-c:a", "libopus", "-b:a", "32k"],
    "m4a": ["-c:a", "aac", "-b:a", "64k"],
}


def run_ffmpeg(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", *args], capture_output=True, check=True
    )


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


def rewrite_webm_duration(data: bytes, *, seconds: float) -> bytes:
    """The same WebM with its Segment Info Duration element (ID 0x4489, an 8-byte float in
    milliseconds at the default TimecodeScale) saying `seconds`: the forgery from issue 14."""
    start = data.index(b"\x44\x89\x88")  # ID, then the size byte: 8 bytes follow
    value = start + 3
    return data[:value] + struct.pack(">d", seconds * 1000) + data[value + 8 :]


def squeeze_timestamps(data: bytes, tmp_path: Path, *, factor: float) -> bytes:
    """The same packets remuxed with every timestamp multiplied by `factor`: header and packet
    times agree with each other, and both lie about how much sound there is."""
    source, squeezed = tmp_path / "source.webm", tmp_path / "squeezed.webm"
    source.write_bytes(data)
    run_ffmpeg("-v", "error", "-y", "-itsscale", str(factor), "-i", str(source), "-c", "copy",
               str(squeezed))  # fmt: skip
    return squeezed.read_bytes()


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


def make_picture(path: Path) -> bytes:
    """A tiny red PNG: a real file ffprobe can read, with no sound in it."""
    run_ffmpeg(
        "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=16x16", "-frames:v", "1", str(path)
    )
    return path.read_bytes()


def ffprobe_duration(data: bytes, tmp_path: Path) -> float:
    path = tmp_path / "probe-me"
    path.write_bytes(data)
    result = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration,format_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        check=True,
    )
    return float(json.loads(result.stdout)["format"]["duration"])


def measure_loudness(data: bytes, tmp_path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) by ffmpeg's EBU R128 meter, independent of loudnorm."""
    path = tmp_path / "measure-me"
    path.write_bytes(data)
    result = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        check=True,
    )
    summary = result.stderr.decode().rsplit("Summary:", 1)[1]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1))
    return integrated, peak


@pytest.fixture
def reader(db):
    return User.objects.create(email="ada@example.com", first_name="Ada", team=Team.RED)


@pytest.fixture
def other_reader(db):
    return User.objects.create(email="bob@example.com", first_name="Bob", team=Team.BLUE)


@pytest.fixture
def staff(db):
    return User.objects.create(
        email="host@example.com", first_name="Host", team=Team.YELLOW, role=Role.ADMIN
    )


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


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
