"""calls.audio on real ffprobe/ffmpeg: what uploads are, and how episodes are assembled."""

import subprocess
import tempfile

import pytest

from calls import audio
from calls.tests.media import (
    ffprobe_duration,
    make_picture,
    measure_loudness,
    rewrite_webm_duration,
    run_ffmpeg,
    squeeze_timestamps,
)


def streamed_webm(recording: bytes) -> bytes:
    """`recording` as MediaRecorder writes WebM: Opus, no duration in the container."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-c:a", "libopus", "-f", "webm", "-"],
        input=recording,
        capture_output=True,
        check=True,
    ).stdout


@pytest.mark.parametrize(
    ("kind", "mime_type"),
    [
        ("wav", "audio/wav"),
        ("mp3", "audio/mpeg"),
        ("ogg", "audio/ogg"),
        ("webm", "audio/webm"),
        ("m4a", "audio/mp4"),
    ],
)
def test_probe_names_the_mime_type_from_the_content(make_audio, kind, mime_type):
    probed = audio.probe(make_audio(1.5, kind=kind))
    assert probed.mime_type == mime_type
    assert probed.duration_seconds == pytest.approx(1.5, abs=0.1)


def test_probe_finds_the_duration_of_webm_written_without_one(make_audio, tmp_path):
    # MediaRecorder streams WebM and never goes back to write the duration; piping mimics that.
    source = tmp_path / "source.wav"
    source.write_bytes(make_audio(2.0))
    streamed = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(source), "-c:a", "libopus", "-f", "webm", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert audio.probe(streamed).duration_seconds == pytest.approx(2.0, abs=0.1)


def test_probe_rejects_empty_bytes():
    with pytest.raises(audio.NotAudio, match="empty"):
        audio.probe(b"")


def test_probe_rejects_text_whatever_it_is_called():
    with pytest.raises(audio.NotAudio, match="not an audio recording"):
        audio.probe(b"ID3 this is a text file pretending to be an mp3\n" * 20)


def test_probe_rejects_an_image(tmp_path):
    png = make_picture(tmp_path / "picture.png")
    with pytest.raises(audio.NotAudio, match="no sound"):
        audio.probe(png)


def test_probe_rejects_a_video_with_sound(tmp_path):
    video = tmp_path / "clip.webm"
    run_ffmpeg(
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "color=c=blue:s=32x32:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-shortest",
        "-c:v",
        "libvpx",
        "-c:a",
        "libopus",
        str(video),
    )
    with pytest.raises(audio.NotAudio, match="video"):
        audio.probe(video.read_bytes())


def test_durations_of_many_recordings_come_from_a_few_ffmpeg_runs(
    make_audio, tmp_path, monkeypatch
):
    """What ffmpeg cannot describe is None (probe() tells why); an unreadable file in the
    middle does not stop the ones after it from being described."""
    monkeypatch.setattr(audio, "DURATIONS_BATCH", 3)  # several runs, one cut short
    streamed = streamed_webm(make_audio(2.0))
    files = {
        "short.wav": make_audio(1.5),
        "call.mp3": make_audio(2.5, kind="mp3"),
        "notes.txt": b"not a recording at all\n" * 50,
        "call.ogg": make_audio(3.0, kind="ogg"),
        "recorded.webm": streamed,
        "picture.png": make_picture(tmp_path / "picture.png"),
        "call.m4a": make_audio(1.0, kind="m4a"),
    }
    paths = []
    for name, data in files.items():
        paths.append(tmp_path / f"input-{name}")
        paths[-1].write_bytes(data)

    runs = []
    run = audio._run
    monkeypatch.setattr(audio, "_run", lambda args, **kw: runs.append(args) or run(args, **kw))

    found = dict(zip(files, audio.durations(paths), strict=True))

    # Three ffmpeg runs for seven files: the first stops at the text file, the next starts
    # after it.
    assert [args.count("-i") for args in runs] == [3, 3, 1]

    assert found["short.wav"] == pytest.approx(1.5, abs=0.01)
    assert found["call.mp3"] == pytest.approx(2.5, abs=0.1)
    assert found["call.ogg"] == pytest.approx(3.0, abs=0.02)
    assert found["call.m4a"] == pytest.approx(1.0, abs=0.05)
    assert found["notes.txt"] is found["recorded.webm"] is found["picture.png"] is None
    # Each duration is the one probe() reports, to the hundredth of a second.
    for name in ("short.wav", "call.mp3", "call.ogg", "call.m4a"):
        assert found[name] == pytest.approx(audio.probe(files[name]).duration_seconds, abs=0.005)


def test_assembled_episode_is_an_mp3_as_long_as_its_parts(make_audio, tmp_path, settings):
    intro, outro = tmp_path / "intro.wav", tmp_path / "outro.wav"
    intro.write_bytes(make_audio(1.0, frequency=880))
    outro.write_bytes(make_audio(1.5, frequency=660))
    settings.CALLS_INTRO_PATH, settings.CALLS_OUTRO_PATH = str(intro), str(outro)

    episode = audio.assemble_episode(
        call_audio=make_audio(3.0, kind="webm"), response_audio=make_audio(4.0, kind="ogg")
    )

    assert episode.mime_type == "audio/mpeg"
    assert audio.probe(episode.audio).mime_type == "audio/mpeg"
    assert episode.size_bytes == len(episode.audio)
    assert ffprobe_duration(episode.audio, tmp_path) == pytest.approx(
        1.0 + 3.0 + 4.0 + 1.5, abs=0.25
    )
    assert episode.duration_seconds == pytest.approx(9.5, abs=0.25)


def test_assembly_uses_generated_intro_and_outro_by_default(make_audio, tmp_path, settings):
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    episode = audio.assemble_episode(
        call_audio=make_audio(3.0), response_audio=make_audio(3.0, kind="mp3")
    )
    expected = 2 * audio.DEFAULT_CLIP_SECONDS + 6.0
    assert ffprobe_duration(episode.audio, tmp_path) == pytest.approx(expected, abs=0.25)


def test_assembly_trims_leading_silence_from_call_and_response(make_audio, tmp_path, settings):
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    episode = audio.assemble_episode(
        call_audio=make_audio(2.0, leading_silence=1.5, kind="ogg"),
        response_audio=make_audio(2.0, leading_silence=2.0),
    )
    expected = 2 * audio.DEFAULT_CLIP_SECONDS + 2.0 + 2.0
    assert ffprobe_duration(episode.audio, tmp_path) == pytest.approx(expected, abs=0.3)


@pytest.mark.parametrize("volume", [0.02, 0.9])
def test_assembly_normalises_quiet_and_loud_voices_to_the_target(
    make_audio, tmp_path, settings, volume
):
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    episode = audio.assemble_episode(
        call_audio=make_audio(4.0, volume=volume),
        response_audio=make_audio(4.0, volume=volume, frequency=300),
    )
    integrated, true_peak = measure_loudness(episode.audio, tmp_path)
    assert integrated == pytest.approx(audio.TARGET_LUFS, abs=1.0)
    assert true_peak < -1.0


def test_a_failed_ffmpeg_run_raises_with_ffmpegs_reason(make_audio):
    with pytest.raises(audio.AudioProcessingError, match="could not join") as raised:
        audio.assemble_episode(call_audio=b"not audio at all", response_audio=make_audio(1.0))
    assert "Invalid data" in str(raised.value)


def test_a_missing_intro_file_is_reported_by_its_setting(make_audio, settings):
    settings.CALLS_INTRO_PATH = "/nonexistent/intro.wav"
    with pytest.raises(audio.AudioProcessingError, match="CALLS_INTRO_PATH"):
        audio.assemble_episode(call_audio=make_audio(1.0), response_audio=make_audio(1.0))


def test_a_missing_ffmpeg_is_reported_by_name(make_audio, settings):
    settings.FFMPEG_BINARY = "/nonexistent/ffmpeg"
    with pytest.raises(audio.AudioProcessingError, match="not installed"):
        audio.assemble_episode(call_audio=make_audio(1.0), response_audio=make_audio(1.0))


def test_a_voice_too_peaky_for_one_gain_is_normalised_by_loudnorm_under_the_ceiling(
    tmp_path, settings
):
    # Quiet tone with a full-scale burst every second: lifting it to -16 LUFS by one gain would
    # push the bursts far over 0 dBTP, so loudnorm must do it dynamically.
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    peaky = tmp_path / "peaky.wav"
    graph = "aevalsrc='0.03*sin(2*PI*440*t)+0.95*sin(2*PI*2000*t)*lt(mod(t,1),0.01)':d=5:s=48000"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", graph, str(peaky)], check=True)
    measured = audio._measure_loudness(peaky)
    assert audio._gain_filter(measured).startswith("loudnorm=")

    episode = audio.assemble_episode(
        call_audio=peaky.read_bytes(), response_audio=peaky.read_bytes()
    )

    integrated, true_peak = measure_loudness(episode.audio, tmp_path)
    assert integrated == pytest.approx(audio.TARGET_LUFS, abs=1.0)
    assert true_peak < -1.0


def test_a_steady_voice_gets_one_linear_gain(make_audio, tmp_path):
    steady = tmp_path / "steady.wav"
    steady.write_bytes(make_audio(3.0, volume=0.05))
    measured = audio._measure_loudness(steady)
    gain = audio.TARGET_LUFS - measured.integrated
    assert audio._gain_filter(measured) == f"volume={gain:.2f}dB"


def test_silence_is_left_as_it_is(tmp_path):
    silence = tmp_path / "silence.wav"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "anullsrc=d=3", str(silence)], check=True
    )
    assert audio._measure_loudness(silence) is None
    assert audio._gain_filter(None) == "anull"


# --- Measuring uploads: the length is counted from the decoded sound -------------------------


@pytest.mark.parametrize("kind", ["wav", "mp3", "ogg", "webm", "m4a"])
def test_examine_measures_every_format_by_decoding_it(make_audio, kind):
    examined = audio.examine(make_audio(1.5, kind=kind), max_seconds=300)
    assert examined.duration_seconds == pytest.approx(1.5, abs=0.1)
    assert examined.at_least is False


def test_examine_measures_webm_written_without_a_duration(make_audio):
    streamed = streamed_webm(make_audio(2.0))
    assert audio.examine(streamed, max_seconds=300).duration_seconds == pytest.approx(2.0, abs=0.1)


def test_a_webm_whose_duration_element_says_5_seconds_is_refused(make_audio):
    forged = rewrite_webm_duration(make_audio(60.0, kind="webm"), seconds=5)
    assert audio.probe(forged).duration_seconds == pytest.approx(5.0)  # what the header claims
    with pytest.raises(audio.NotAudio, match=r"says it lasts 0:05, but it holds 1:00 of sound"):
        audio.examine(forged, max_seconds=300)


def test_a_webm_whose_packet_timestamps_were_squeezed_is_refused(make_audio, tmp_path):
    # Header and timestamps agree on 5 s; only decoding finds the minute of sound.
    forged = squeeze_timestamps(make_audio(60.0, kind="webm"), tmp_path, factor=1 / 12)
    assert audio.probe(forged).duration_seconds == pytest.approx(5.0, abs=0.1)
    with pytest.raises(audio.NotAudio, match=r"says it lasts 0:05, but it holds 1:00 of sound"):
        audio.examine(forged, max_seconds=300)


def test_decoding_stops_a_little_past_the_limit(make_audio):
    streamed = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-c:a", "libopus", "-f", "webm", "-"],
        input=make_audio(30.0),
        capture_output=True,
        check=True,
    ).stdout
    examined = audio.examine(streamed, max_seconds=5)
    # 5 s + 1 s tolerance + 1 s: enough to know it is too long, no more.
    assert examined.at_least is True
    assert examined.duration_seconds == pytest.approx(7.0, abs=0.05)


def test_a_long_recording_with_an_honest_header_is_reported_by_its_length(make_audio):
    examined = audio.examine(make_audio(30.0, kind="ogg"), max_seconds=5)
    assert examined.at_least is False
    assert examined.duration_seconds == pytest.approx(30.0, abs=0.1)


def test_an_mp3_whose_length_ffprobe_only_guesses_is_measured_not_refused(tmp_path):
    # Variable bitrate without a Xing header: ffprobe guesses the length from the first frames'
    # bitrate (near-silent, so tiny) and is far off. A guess is no declaration to refuse it by.
    path = tmp_path / "vbr.mp3"
    silence_then_noise = (
        "anullsrc=r=44100:cl=mono,atrim=duration=8[s];anoisesrc=d=12:a=0.5[n];"
        "[s][n]concat=n=2:v=0:a=1"
    )
    run_ffmpeg("-v", "error", "-filter_complex", silence_then_noise, "-c:a", "libmp3lame",
               "-q:a", "0", "-write_xing", "0", str(path))  # fmt: skip
    assert ffprobe_duration(path.read_bytes(), tmp_path) > 40  # the guess really is wrong
    examined = audio.examine(path.read_bytes(), max_seconds=300)
    assert examined.duration_seconds == pytest.approx(20.0, abs=0.1)


def test_every_ffmpeg_and_ffprobe_run_may_open_local_files_only(
    make_audio, tmp_path, monkeypatch, settings
):
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    runs = []
    run = audio._run
    monkeypatch.setattr(audio, "_run", lambda args, **kw: runs.append(args) or run(args, **kw))
    recording = make_audio(1.0, kind="ogg")
    path = tmp_path / "call.ogg"
    path.write_bytes(recording)

    audio.examine(recording, max_seconds=300)
    audio.probe(make_audio(1.0, kind="webm"))
    audio.durations([path, path])
    audio.assemble_episode(call_audio=recording, response_audio=make_audio(1.0, kind="mp3"))

    assert len(runs) >= 7
    for args in runs:
        inputs = [i for i, arg in enumerate(args) if arg == "-i"] or [len(args) - 1]
        previous = 0
        for position in inputs:
            options = args[previous:position]
            assert any(
                options[i : i + 2] == ["-protocol_whitelist", "file"] for i in range(len(options))
            ), args
            previous = position + 1


# --- Publishing is bounded in time and temporary disk ---------------------------------------


def test_publishing_work_stops_at_its_time_limit_and_leaves_no_files(
    make_audio, tmp_path, monkeypatch, settings
):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    # Two minutes of sound cannot be decoded, filtered and written in a hundredth of a second.
    settings.CALLS_PUBLISH_TIMEOUT_SECONDS = 0.01
    with pytest.raises(audio.AudioProcessingError) as raised:
        audio.assemble_episode(
            call_audio=make_audio(60.0, kind="webm"), response_audio=make_audio(60.0, kind="ogg")
        )
    assert str(raised.value).startswith(
        "Publishing gave up after 0.01 seconds (CALLS_PUBLISH_TIMEOUT_SECONDS) while ffmpeg"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_call_with_more_sound_than_its_stored_length_stops_at_a_temporary_disk_limit(
    make_audio, small_tmpfs, monkeypatch, settings
):
    """A call stored before uploads were measured: a minute of sound, 0:05 on record. Its
    joined WAV alone would take 21 MB; publishing works in 8 MB and stops at its own limit."""
    scratch = small_tmpfs(8)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    settings.CALLS_INTRO_PATH = settings.CALLS_OUTRO_PATH = ""
    with pytest.raises(audio.AudioProcessingError) as raised:
        audio.assemble_episode(
            call_audio=rewrite_webm_duration(make_audio(60.0, kind="webm"), seconds=5),
            response_audio=make_audio(1.0, kind="mp3"),
            parts_seconds=6.0,
        )
    message = str(raised.value)
    assert "hold more sound than their stored lengths say (0:06 together)" in message
    assert "No space left" not in message
    assert list(scratch.iterdir()) == []
