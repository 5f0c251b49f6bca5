"""Everything litesite asks of ffprobe and ffmpeg: what an upload really is, and episode assembly.

The bytes a browser sends are described by ffprobe, never by the file name or the declared
Content-Type, and their length is measured by decoding them: a container's header and its packet
timestamps are both written by whoever made the file. ffmpeg always works on files in a private
temporary directory (several formats, MP4 among them, cannot be read from a pipe), may open
nothing but files (`-protocol_whitelist file`), runs with a timeout and, where it writes, a size
limit; its stderr is kept so staff can see why a run failed.
"""

import json
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from calls.models import clock

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

# ffmpeg and ffprobe may read and write local files only: no network, no other processes.
FILES_ONLY = ["-protocol_whitelist", "file"]

# Declared and measured lengths of an honest file differ by encoder delay and padding
# (milliseconds); a forged header is off by far more.
DURATION_TOLERANCE_SECONDS = 1.0
DURATION_TOLERANCE_RATIO = 0.02

# Decoded sound is counted as 8 kHz mono 16-bit PCM: 16,000 bytes per second, so measuring a
# five-minute call writes under 5 MB of temporary file.
MEASURE_SAMPLE_RATE = 8000
MEASURE_BYTES_PER_SECOND = MEASURE_SAMPLE_RATE * 2

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
    # True when measuring stopped early: the recording lasts *at least* duration_seconds.
    at_least: bool = False


@dataclass(frozen=True)
class _Described:
    """What ffprobe read from a file's headers, before anything is decoded."""

    format_name: str
    mime_type: str
    # None when the container does not say, or when ffprobe only guessed from the bitrate.
    declared_seconds: float | None


@dataclass(frozen=True)
class AssembledEpisode:
    audio: bytes
    mime_type: str
    duration_seconds: float

    @property
    def size_bytes(self) -> int:
        return len(self.audio)


def _run(
    args: list[str], *, timeout: float, what: str, timeout_message: str = ""
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError as error:
        raise AudioProcessingError(
            f"{what}: the program {args[0]!r} is not installed (see FFMPEG_BINARY/FFPROBE_BINARY)."
        ) from error
    except subprocess.TimeoutExpired as error:
        # subprocess.run has killed the program; its temporary files go with their folder.
        raise AudioProcessingError(
            timeout_message or f"{what}: gave up after {timeout:g} seconds."
        ) from error


def duration_tolerance(seconds: float) -> float:
    """How far a declared length may be from the measured one in an honest file."""
    return max(DURATION_TOLERANCE_SECONDS, DURATION_TOLERANCE_RATIO * seconds)


def _stderr_tail(result: subprocess.CompletedProcess, lines: int = 12) -> str:
    text = result.stderr.decode("utf-8", "replace").strip()
    return "\n".join(text.splitlines()[-lines:]) or f"exit status {result.returncode}"


def probe(data: bytes) -> ProbedAudio:
    """Describe a recording, or raise NotAudio with a sentence saying why not.

    The duration is the one the container declares (or, without one, where its last packet
    ends): right for files we made or already trust. Uploads go through examine(), which
    measures instead.
    """
    if not data:
        raise NotAudio("The recording is empty.")
    with tempfile.TemporaryDirectory(prefix="litesite-probe-") as folder:
        # No extension: ffprobe must recognise the content, not the name.
        path = Path(folder) / "upload"
        path.write_bytes(data)
        return _probe_file(path)


def examine(data: bytes, *, max_seconds: float) -> ProbedAudio:
    """Describe an uploaded recording and measure how long it really is, or raise NotAudio.

    The length is counted from the decoded sound, which is what an episode is made of; neither
    the container's declared duration nor its packet timestamps are believed (both are written
    by whoever made the file). Decoding stops a little past `max_seconds`, so a long recording
    costs no more than a short one; its duration_seconds is then what is known (`at_least`). A
    recording whose declared length disagrees with the measured one is refused: it was forged
    or damaged, and either way the header would mislead every player and the feed.
    """
    if not data:
        raise NotAudio("The recording is empty.")
    with tempfile.TemporaryDirectory(prefix="litesite-probe-") as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        described = _describe(path)
        stop_at = max_seconds + duration_tolerance(max_seconds) + 1
        measured = _decoded_seconds(
            path, format_name=described.format_name, stop_at=stop_at, scratch=Path(folder)
        )
    if measured <= 0:
        raise NotAudio("The recording is empty: it contains no sound.")
    complete = measured < stop_at
    declared = described.declared_seconds
    if declared is not None:
        if complete:
            disagree = abs(declared - measured) > duration_tolerance(max(declared, measured))
        else:
            disagree = declared < measured - duration_tolerance(measured)
        if disagree:
            held = clock(measured) if complete else f"more than {clock(measured)}"
            raise NotAudio(
                f"This file says it lasts {clock(declared)}, but it holds {held} of sound: "
                "its header is wrong. Please send the original recording."
            )
    if complete:
        seconds, at_least = measured, False
    elif declared is not None:
        seconds, at_least = declared, False  # agrees with every second decoded so far
    else:
        seconds, at_least = measured, True
    return ProbedAudio(
        format_name=described.format_name,
        mime_type=described.mime_type,
        duration_seconds=seconds,
        at_least=at_least,
    )


def _probe_file(path: Path) -> ProbedAudio:
    described = _describe(path)
    duration = described.declared_seconds or _duration_from_packets(path)
    if duration <= 0:
        raise NotAudio("The recording is empty: it contains no sound.")
    return ProbedAudio(
        format_name=described.format_name,
        mime_type=described.mime_type,
        duration_seconds=duration,
    )


def _describe(path: Path) -> _Described:
    result = _run(
        [
            settings.FFPROBE_BINARY,
            # Warnings too: that is where ffprobe admits a duration is only a guess.
            "-v",
            "warning",
            *FILES_ONLY,
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
    declared = _duration(info) or None
    # An MP3 without a Xing/Info header has no length; ffprobe guesses one from the first
    # frames' bitrate, which for variable bitrate is not a declaration to hold the file to.
    if b"Estimating duration from bitrate" in result.stderr:
        declared = None
    return _Described(format_name=format_name, mime_type=mime_type, declared_seconds=declared)


def _decoded_seconds(path: Path, *, format_name: str, stop_at: float, scratch: Path) -> float:
    """Seconds of sound in the first audio stream, counted as decoded samples: a value at or
    above `stop_at` means "at least that long" (ffmpeg stopped writing there, `-fs`)."""
    decoded = scratch / "decoded.pcm"
    limit = int(stop_at * MEASURE_BYTES_PER_SECOND)
    result = _run(
        [
            settings.FFMPEG_BINARY,
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            *FILES_ONLY,
            # Only the demuxer ffprobe recognised: the file cannot turn into a playlist now.
            "-format_whitelist",
            format_name,
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-ac",
            "1",
            "-ar",
            str(MEASURE_SAMPLE_RATE),
            "-c:a",
            "pcm_s16le",
            "-f",
            "s16le",
            "-fs",
            str(limit),
            *FILES_ONLY,
            "-y",
            str(decoded),
        ],
        timeout=PROBE_TIMEOUT_SECONDS,
        what="ffmpeg (measuring)",
    )
    if result.returncode != 0 or not decoded.exists():
        raise NotAudio("This recording is damaged: its sound could not be decoded.")
    return decoded.stat().st_size / MEASURE_BYTES_PER_SECOND


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
                *[arg for path in batch for arg in (*FILES_ONLY, "-i", str(path))],
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
            *FILES_ONLY,
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
        return [*FILES_ONLY, "-f", "lavfi", "-i", default_source]
    if not Path(configured_path).is_file():
        raise AudioProcessingError(f"{setting} is {configured_path!r}, but there is no such file.")
    return [*FILES_ONLY, "-i", configured_path]


def _clip_seconds(configured_path: str) -> float:
    """The length of an intro or outro: the site's own files, so their header is believed."""
    if not configured_path or not Path(configured_path).is_file():
        return DEFAULT_CLIP_SECONDS  # a missing file is reported by _clip_input, with its setting
    try:
        return _probe_file(Path(configured_path)).duration_seconds
    except NotAudio:
        return 0.0  # ffmpeg will say what is wrong with it


# What publishing writes to temporary files per second of episode: the joined programme as
# 32-bit float stereo at 44.1 kHz (352,800 bytes), then the 128 kbit/s MP3 (16,000 bytes).
JOINED_BYTES_PER_SECOND = SAMPLE_RATE * 2 * 4
MP3_BYTES_PER_SECOND = 128_000 // 8
FILE_SLACK_BYTES = 256 * 1024  # headers, tags, the encoder's last frames


@dataclass
class _Budget:
    """What publishing one episode may spend: wall-clock time for all its ffmpeg runs, and
    temporary disk, from the length the episode should have."""

    seconds: float
    episode_seconds: float
    started: float = field(default_factory=time.monotonic)

    def timeout(self, what: str) -> dict:
        """Keyword arguments for _run: the time left, and what to say when it runs out."""
        left = self.started + self.seconds - time.monotonic()
        message = (
            f"Publishing gave up after {self.seconds:g} seconds (CALLS_PUBLISH_TIMEOUT_SECONDS) "
            f"while {what}. Nothing was published."
        )
        if left <= 0:
            raise AudioProcessingError(message)
        return {"timeout": left, "timeout_message": message}

    def file_limit(self, bytes_per_second: int) -> int:
        return int(self.episode_seconds * bytes_per_second) + FILE_SLACK_BYTES


def assemble_episode(
    *,
    call_audio: bytes,
    response_audio: bytes,
    title: str = "",
    parts_seconds: float | None = None,
) -> AssembledEpisode:
    """intro + call + response + outro as one loudness-normalised MP3.

    Leading silence is trimmed from the call and the response (people take a breath before they
    speak). Loudness is normalised in two passes: the first measures (EBU R128), the second
    applies one linear gain when that keeps the true peak under the ceiling, so the voices keep
    their dynamics, and otherwise hands the measurements to loudnorm. Raises
    AudioProcessingError with ffmpeg's own words when any step fails.

    Bounded: all the ffmpeg runs together get CALLS_PUBLISH_TIMEOUT_SECONDS, and no temporary
    file may grow past what an episode of the expected length needs. `parts_seconds` is the
    stored length of call + response; without it, two recordings of the longest allowed length.
    A call whose sound outlasts its stored length (a forged header that predates measuring)
    stops at that limit with an AudioProcessingError, not after gigabytes of WAV.
    """
    if parts_seconds is None:
        parts_seconds = 2 * settings.CALLS_MAX_SECONDS
    budget = _Budget(
        seconds=settings.CALLS_PUBLISH_TIMEOUT_SECONDS,
        episode_seconds=_clip_seconds(settings.CALLS_INTRO_PATH)
        + parts_seconds
        + 2 * duration_tolerance(parts_seconds)
        + _clip_seconds(settings.CALLS_OUTRO_PATH),
    )
    with tempfile.TemporaryDirectory(prefix="litesite-episode-") as temporary:
        folder = Path(temporary)
        call_path, response_path = folder / "call", folder / "response"
        call_path.write_bytes(call_audio)
        response_path.write_bytes(response_audio)
        joined = folder / "joined.wav"
        _join(call_path=call_path, response_path=response_path, output=joined, budget=budget)
        _check_within(joined, budget.file_limit(JOINED_BYTES_PER_SECOND), parts_seconds)
        measured = _measure_loudness(joined, budget=budget)
        episode = folder / "episode.mp3"
        _normalise_to_mp3(joined, measured=measured, output=episode, title=title, budget=budget)
        _check_within(episode, budget.file_limit(MP3_BYTES_PER_SECOND), parts_seconds)
        audio = episode.read_bytes()
        try:
            duration = _probe_file(episode).duration_seconds
        except NotAudio as error:
            raise AudioProcessingError(f"ffmpeg wrote an unreadable MP3: {error}") from error
    return AssembledEpisode(audio=audio, mime_type="audio/mpeg", duration_seconds=duration)


def _check_within(path: Path, limit: int, parts_seconds: float) -> None:
    """ffmpeg stops writing at `-fs` and still succeeds: reaching the limit is the failure."""
    if path.stat().st_size >= limit:
        raise AudioProcessingError(
            "The call and the response hold more sound than their stored lengths say "
            f"({clock(parts_seconds)} together), so publishing stopped after "
            f"{filesizeformat(limit)} of temporary files. Nothing was published: ask the caller "
            "to send the recording again (uploads are measured now), or discard the call."
        )


def _join(*, call_path: Path, response_path: Path, output: Path, budget: _Budget) -> None:
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
    # Stored recordings were accepted in one of these containers; nothing else may open them.
    recording_formats = ["-format_whitelist", ",".join(MIME_TYPES)]
    args = [
        settings.FFMPEG_BINARY,
        "-hide_banner",
        "-nostdin",
        "-y",
        *_clip_input(settings.CALLS_INTRO_PATH, DEFAULT_INTRO, setting="CALLS_INTRO_PATH"),
        *FILES_ONLY,
        *recording_formats,
        "-i",
        str(call_path),
        *FILES_ONLY,
        *recording_formats,
        "-i",
        str(response_path),
        *_clip_input(settings.CALLS_OUTRO_PATH, DEFAULT_OUTRO, setting="CALLS_OUTRO_PATH"),
        "-filter_complex",
        graph,
        "-map",
        "[out]",
        "-c:a",
        "pcm_f32le",
        "-fs",
        str(budget.file_limit(JOINED_BYTES_PER_SECOND)),
        *FILES_ONLY,
        str(output),
    ]
    what = "ffmpeg was joining the parts"
    result = _run(args, what="ffmpeg (joining the parts)", **budget.timeout(what))
    if result.returncode != 0:
        raise AudioProcessingError(f"ffmpeg could not join the parts:\n{_stderr_tail(result)}")


@dataclass(frozen=True)
class Loudness:
    """EBU R128 measurements of a whole programme, as loudnorm's second pass wants them."""

    integrated: float  # LUFS
    threshold: float  # LUFS, the relative gate of the integrated measurement
    loudness_range: float  # LU
    true_peak: float  # dBTP


def _measure_loudness(path: Path, *, budget: _Budget | None = None) -> Loudness | None:
    """The first pass, by ffmpeg's ebur128 meter: the same measurement loudnorm's own first pass
    makes, at a fraction of its cost (loudnorm works at 192 kHz). None for pure silence."""
    args = [
        settings.FFMPEG_BINARY,
        "-hide_banner",
        "-nostdin",
        "-nostats",
        *FILES_ONLY,
        "-i",
        str(path),
        "-af",
        "ebur128=peak=true:framelog=verbose",
        "-f",
        "null",
        "-",
    ]
    what = "ffmpeg was measuring the loudness"
    limits = budget.timeout(what) if budget else {"timeout": PROBE_TIMEOUT_SECONDS}
    result = _run(args, what="ffmpeg (measuring loudness)", **limits)
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


def _normalise_to_mp3(
    path: Path, *, measured: Loudness | None, output: Path, title: str, budget: _Budget
) -> None:
    args = [
        settings.FFMPEG_BINARY,
        "-hide_banner",
        "-nostdin",
        "-y",
        *FILES_ONLY,
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
        "-fs",
        str(budget.file_limit(MP3_BYTES_PER_SECOND)),
        *FILES_ONLY,
        str(output),
    ]
    what = "ffmpeg was encoding the MP3"
    result = _run(args, what="ffmpeg (normalising, encoding)", **budget.timeout(what))
    if result.returncode != 0:
        raise AudioProcessingError(f"ffmpeg could not encode the episode:\n{_stderr_tail(result)}")
