"""Everything litesite asks of ffprobe and ffmpeg: what an upload really is, and episode assembly.

The bytes a browser sends are described by ffprobe, never by the file name or the declared
Content-Type. ffmpeg always works on files in a private temporary directory (several formats,
MP4 among them, cannot be read from a pipe), with a timeout, and its stderr is kept so staff can
see why a run failed.
"""

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

# ffprobe's format_name -> the MIME type browsers and podcast apps expect for that container.
MIME_TYPES = {
    "matroska,webm": "audio/webm",
    "ogg": "audio/ogg",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
    "aac": "audio/aac",
}
ACCEPTED_FORMATS = "WebM, Ogg, MP3, WAV, FLAC, M4A or AAC"

PROBE_TIMEOUT_SECONDS = 30
# A five-minute call and response take a few seconds per pass on one core; this is generous.
ASSEMBLY_TIMEOUT_SECONDS = 300

TARGET_LUFS = -16.0
# Aim below the -1 dBTP ceiling: MP3 encoding can lift true peaks by a few tenths of a dB.
TARGET_TRUE_PEAK = -1.5
TARGET_LRA = 11.0
SAMPLE_RATE = 44100

# The default intro and outro: short chimes from ffmpeg's expression source, so publishing works
# on a fresh checkout with nothing to download or ship. Each lasts DEFAULT_CLIP_SECONDS,
# the tail of which is the chime dying away: the pause between the music and the voices.
DEFAULT_CLIP_SECONDS = 2.0
_CHIME = "0.35*sin(2*PI*{f}*t)*exp(-3.5*if(lt(t,0.3),t,if(lt(t,0.6),t-0.3,t-0.6)))"
DEFAULT_INTRO = (
    "aevalsrc=exprs='"
    + _CHIME.format(f="if(lt(t,0.3),523.25,if(lt(t,0.6),659.25,783.99))")
    + f"':d={DEFAULT_CLIP_SECONDS}:s={SAMPLE_RATE}"
)
DEFAULT_OUTRO = (
    "aevalsrc=exprs='"
    + _CHIME.format(f="if(lt(t,0.3),783.99,if(lt(t,0.6),659.25,523.25))")
    + f"':d={DEFAULT_CLIP_SECONDS}:s={SAMPLE_RATE}"
)


class NotAudio(ValueError):
    """The bytes are not an audio recording we can use; the message is for the person uploading."""


class AudioProcessingError(RuntimeError):
    """ffmpeg or ffprobe failed on input we had accepted; the message says why, for staff."""


@dataclass(frozen=True)
class ProbedAudio:
    format_name: str
    mime_type: str
    duration_seconds: float


@dataclass(frozen=True)
class AssembledEpisode:
    audio: bytes
    mime_type: str
    duration_seconds: float

    @property
    def size_bytes(self) -> int:
        return len(self.audio)


def _run(args: list[str], *, timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise AudioProcessingError(
            f"{what}: the program {args[0]!r} is not installed (see FFMPEG_BINARY/FFPROBE_BINARY)."
        ) from error
    except subprocess.TimeoutExpired as error:
        raise AudioProcessingError(f"{what}: gave up after {timeout:g} seconds.") from error


def _stderr_tail(result: subprocess.CompletedProcess, lines: int = 12) -> str:
    text = result.stderr.decode("utf-8", "replace").strip()
    return "\n".join(text.splitlines()[-lines:]) or f"exit status {result.returncode}"


def probe(data: bytes) -> ProbedAudio:
    """Describe an uploaded recording, or raise NotAudio with a sentence saying why not."""
    if not data:
        raise NotAudio("The recording is empty.")
    with tempfile.TemporaryDirectory(prefix="litesite-probe-") as folder:
        # No extension: ffprobe must recognise the content, not the name.
        path = Path(folder) / "upload"
        path.write_bytes(data)
        return _probe_file(path)


def _probe_file(path: Path) -> ProbedAudio:
    result = _run(
        [
            settings.FFPROBE_BINARY,
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        timeout=PROBE_TIMEOUT_SECONDS,
        what="ffprobe",
    )
    if result.returncode != 0:
        raise NotAudio("This file is not an audio recording we can read.")
    info = json.loads(result.stdout or b"{}")
    streams = info.get("streams", [])
    format_name = info.get("format", {}).get("format_name", "")
    audio_streams = [s for s in streams if s.get("codec_type") == "audio"]
    # Cover art in an MP3 or M4A is a still picture, not a video.
    videos = [
        s
        for s in streams
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not audio_streams:
        raise NotAudio("This file has no sound in it: it is not an audio recording.")
    if videos:
        raise NotAudio("This is a video. Please send the audio only.")
    mime_type = MIME_TYPES.get(format_name)
    if mime_type is None:
        raise NotAudio(f"This audio format is not supported; please send {ACCEPTED_FORMATS}.")
    duration = _duration(info) or _duration_from_packets(path)
    if duration <= 0:
        raise NotAudio("The recording is empty: it contains no sound.")
    return ProbedAudio(format_name=format_name, mime_type=mime_type, duration_seconds=duration)


# How ffmpeg describes each input as it opens it (libavformat's av_dump_format): a heading,
# then the container's duration to the hundredth of a second, then one line per stream.
_INPUT_HEADING = re.compile(r"^Input #(\d+), (.+), from '.*':$")
_INPUT_DURATION = re.compile(r"^  Duration: (\d+):(\d\d):(\d\d)\.(\d\d),")
_INPUT_STREAM = re.compile(r"^\s+Stream #\d+:\d+.*?: (Audio|Video|Subtitle|Data|Attachment):")
DURATIONS_BATCH = 16


def durations(paths: list[Path], *, nice: int = 0) -> list[float | None]:
    """The duration of each recording, to the hundredth of a second, from one ffmpeg run per
    DURATIONS_BATCH files instead of an ffprobe run each.

    Starting ffmpeg or ffprobe costs ~60 ms of CPU, mostly the dynamic linker: probing a few
    thousand recordings (a site's calls, migrated) one by one would take minutes. ffmpeg given
    only inputs describes each as it opens it, then stops ("no output"), or stops at the first
    input it cannot open, naming it. None where that description is not a plain recording in a
    supported format with a known duration (a WebM from MediaRecorder has none, a video is not
    a call): probe() that file, which looks further and says why. `nice` lowers ffmpeg's
    priority, for work in the background.
    """
    found: list[float | None] = [None] * len(paths)
    start = 0
    while start < len(paths):
        batch = paths[start : start + DURATIONS_BATCH]
        result = _run(
            [
                *(["nice", "-n", str(nice)] if nice else []),
                settings.FFMPEG_BINARY,
                "-hide_banner",
                "-nostdin",
                *[arg for path in batch for arg in ("-i", str(path))],
            ],
            timeout=PROBE_TIMEOUT_SECONDS,
            what="ffmpeg",
        )
        described = _described_inputs(result.stderr.decode("utf-8", "replace"))
        for index, seconds in described.items():
            found[start + index] = seconds
        # An input ffmpeg could not open ends its run: the ones before it were described, it
        # stays None and the next run starts after it.
        start += max(described, default=-1) + 2 if len(described) < len(batch) else len(batch)
    return found


def _described_inputs(log: str) -> dict[int, float | None]:
    """{input index: duration or None} for every input ffmpeg described in `log`."""
    described: dict[int, float | None] = {}
    index = None
    kinds: set[str] = set()
    seconds = None

    def close() -> None:
        if index is not None:
            plain = kinds == {"Audio"}
            described[index] = seconds if plain and seconds else None

    for line in log.splitlines():
        if heading := _INPUT_HEADING.match(line):
            close()
            index, kinds, seconds = int(heading[1]), set(), None
            if heading[2] not in MIME_TYPES:
                kinds.add("unsupported format")
        elif index is not None and (duration := _INPUT_DURATION.match(line)):
            hours, minutes, whole, hundredths = map(int, duration.groups())
            seconds = hours * 3600 + minutes * 60 + whole + hundredths / 100
        elif index is not None and (stream := _INPUT_STREAM.match(line)):
            kinds.add(stream[1])
    close()
    return described


def _duration(info: dict) -> float:
    try:
        return float(info.get("format", {}).get("duration", 0))
    except ValueError:
        return 0.0


def _duration_from_packets(path: Path) -> float:
    """Browsers' MediaRecorder writes WebM without a duration; the last packet's end tells it."""
    result = _run(
        [
            settings.FFPROBE_BINARY,
            "-v",
            "error",
            "-select_streams",
            "a:0",
            "-show_entries",
            "packet=pts_time,duration_time",
            "-of",
            "csv=p=0",
            str(path),
        ],
        timeout=PROBE_TIMEOUT_SECONDS,
        what="ffprobe",
    )
    end = 0.0
    for line in result.stdout.decode("ascii", "replace").splitlines():
        fields = line.strip().strip(",").split(",")
        try:
            values = [float(field) for field in fields if field not in ("", "N/A")]
        except ValueError:
            continue
        end = max(end, sum(values[:2]))
    return end


def _clip_input(configured_path: str, default_source: str, *, setting: str) -> list[str]:
    if not configured_path:
        return ["-f", "lavfi", "-i", default_source]
    if not Path(configured_path).is_file():
        raise AudioProcessingError(f"{setting} is {configured_path!r}, but there is no such file.")
    return ["-i", configured_path]


def assemble_episode(
    *, call_audio: bytes, response_audio: bytes, title: str = ""
) -> AssembledEpisode:
    """intro + call + response + outro as one loudness-normalised MP3.

    Leading silence is trimmed from the call and the response (people take a breath before they
    speak). Loudness is normalised in two passes: the first measures (EBU R128), the second
    applies one linear gain when that keeps the true peak under the ceiling, so the voices keep
    their dynamics, and otherwise hands the measurements to loudnorm. Raises
    AudioProcessingError with ffmpeg's own words when any step fails.
    """
    with tempfile.TemporaryDirectory(prefix="litesite-episode-") as folder:
        folder = Path(folder)
        call_path, response_path = folder / "call", folder / "response"
        call_path.write_bytes(call_audio)
        response_path.write_bytes(response_audio)
        joined = folder / "joined.wav"
        _join(call_path=call_path, response_path=response_path, output=joined)
        measured = _measure_loudness(joined)
        episode = folder / "episode.mp3"
        _normalise_to_mp3(joined, measured=measured, output=episode, title=title)
        audio = episode.read_bytes()
        try:
            duration = _probe_file(episode).duration_seconds
        except NotAudio as error:
            raise AudioProcessingError(f"ffmpeg wrote an unreadable MP3: {error}") from error
    return AssembledEpisode(audio=audio, mime_type="audio/mpeg", duration_seconds=duration)


def _join(*, call_path: Path, response_path: Path, output: Path) -> None:
    common = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    trim = "silenceremove=start_periods=1:start_duration=0.05:start_threshold=-50dB"
    graph = ";".join(
        [
            f"[0:a]{common}[intro]",
            f"[1:a]{trim},{common}[call]",
            f"[2:a]{trim},{common}[response]",
            f"[3:a]{common}[outro]",
            "[intro][call][response][outro]concat=n=4:v=0:a=1[out]",
        ]
    )
    args = [
        settings.FFMPEG_BINARY,
        "-hide_banner",
        "-nostdin",
        "-y",
        *_clip_input(settings.CALLS_INTRO_PATH, DEFAULT_INTRO, setting="CALLS_INTRO_PATH"),
        "-i",
        str(call_path),
        "-i",
        str(response_path),
        *_clip_input(settings.CALLS_OUTRO_PATH, DEFAULT_OUTRO, setting="CALLS_OUTRO_PATH"),
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-c:a",
        "pcm_f32le",
        str(output),
    ]
    result = _run(args, timeout=ASSEMBLY_TIMEOUT_SECONDS, what="ffmpeg (joining the parts)")
    if result.returncode != 0:
        raise AudioProcessingError(f"ffmpeg could not join the parts:\n{_stderr_tail(result)}")


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurements of a whole programme, as loudnorm's second pass wants them."""

    integrated: float  # LUFS
    threshold: float  # LUFS, the relative gate of the integrated measurement
    loudness_range: float  # LU
    true_peak: float  # dBTP


def _measure_loudness(path: Path) -> Loudness | None:
    """The first pass, by ffmpeg's ebur128 meter: the same measurement loudnorm's own first pass
    makes, at a fraction of its cost (loudnorm works at 192 kHz). None for pure silence."""
    args = [
        settings.FFMPEG_BINARY,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        "-i",
        str(path),
        "-af",
        "ebur128=peak=true:framelog=verbose",
        "-f",
        "null",
        "-",
    ]
    result = _run(args, timeout=ASSEMBLY_TIMEOUT_SECONDS, what="ffmpeg (measuring loudness)")
    text = result.stderr.decode("utf-8", "replace")
    if result.returncode != 0 or "Summary:" not in text:
        raise AudioProcessingError(f"ffmpeg could not measure loudness:\n{_stderr_tail(result)}")
    summary = text.rsplit("Summary:", 1)[1]
    values = re.findall(r"(I|Threshold|LRA|Peak):\s+(-?(?:inf|[\d.]+))", summary)
    found: dict[str, float] = {}
    for name, value in values:
        found.setdefault(name, float(value))  # the first Threshold is the integrated one
    # ebur128 reports -70 LUFS (its floor) for silence: nothing to normalise.
    if found.get("I", -70.0) <= -70.0:
        return None
    return Loudness(found["I"], found["Threshold"], found["LRA"], found["Peak"])


def _gain_filter(measured: Loudness | None) -> str:
    """The second pass. When one gain reaches the target without pushing the true peak over
    the ceiling, that gain is all loudnorm's linear mode would apply, so apply it directly.
    Otherwise loudnorm, given the first pass's figures, normalises dynamically."""
    if measured is None:
        return "anull"
    gain = TARGET_LUFS - measured.integrated
    if measured.true_peak + gain <= TARGET_TRUE_PEAK:
        return f"volume={gain:.2f}dB"
    options = {
        "I": TARGET_LUFS,
        "TP": TARGET_TRUE_PEAK,
        "LRA": TARGET_LRA,
        "measured_I": measured.integrated,
        "measured_TP": measured.true_peak,
        "measured_LRA": measured.loudness_range,
        "measured_thresh": measured.threshold,
        "linear": "true",
    }
    return "loudnorm=" + ":".join(f"{key}={value}" for key, value in options.items())


def _normalise_to_mp3(path: Path, *, measured: Loudness | None, output: Path, title: str) -> None:
    args = [
        settings.FFMPEG_BINARY,
        "-hide_banner",
        "-nostdin",
        "-y",
        "-i",
        str(path),
        "-af",
        _gain_filter(measured),
        "-ar",
        str(SAMPLE_RATE),
        "-ac",
        "2",
        "-c:a",
        "libmp3lame",
        "-b:a",
        "128k",
        "-metadata",
        f"title={title}",
        "-metadata",
        f"artist={settings.PODCAST_AUTHOR}",
        str(output),
    ]
    result = _run(args, timeout=ASSEMBLY_TIMEOUT_SECONDS, what="ffmpeg (normalising, encoding)")
    if result.returncode != 0:
        raise AudioProcessingError(f"ffmpeg could not encode the episode:\n{_stderr_tail(result)}")
