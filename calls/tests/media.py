"""Making and measuring audio files with ffmpeg/ffprobe, for the calls tests."""

import json
import re
import struct
import subprocess
from pathlib import Path

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
