"""Reading every format at any rate and channel count, and refusing bad files with a reason."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from gesturegan.training.audio import AudioFileError, load_audio, read_audio

FORMATS = [
    ("wav", "WAV", "PCM_16"),
    ("wav", "WAV", "PCM_24"),
    ("wav", "WAV", "FLOAT"),
    ("flac", "FLAC", "PCM_24"),
    ("ogg", "OGG", "VORBIS"),
    ("aiff", "AIFF", "PCM_16"),
    ("mp3", "MP3", "MPEG_LAYER_III"),
]


@pytest.fixture(scope="module")
def choir(corpus):
    data, rate = sf.read(corpus / "ambi_choir.flac", dtype="float32", always_2d=True)
    return data, rate


@pytest.mark.parametrize(("ext", "fmt", "subtype"), FORMATS)
@pytest.mark.parametrize("rate", [22050, 48000])
def test_reads_each_format_resampled_to_target(tmp_path, choir, ext, fmt, subtype, rate):
    import soxr

    data, src_rate = choir
    audio = soxr.resample(data, src_rate, rate)
    path = tmp_path / f"choir.{ext}"
    sf.write(path, audio, rate, format=fmt, subtype=subtype)

    mono = load_audio(path, 44100, channels=1)
    stereo = load_audio(path, 44100, channels=2)
    assert mono.dtype == np.float32 and mono.shape[0] == 1
    assert stereo.shape[0] == 2
    expected = data.shape[0]  # same duration at 44.1 kHz, within a codec frame
    assert abs(mono.shape[1] - expected) < 2400, (mono.shape, expected)
    # The content survives: same loudness within a dB (lossy codecs included).
    ref = 20 * np.log10(np.sqrt(np.mean(data.mean(axis=1) ** 2)))
    got = 20 * np.log10(np.sqrt(np.mean(mono**2)))
    assert abs(ref - got) < 1.0


def test_resampling_keeps_pitch(tmp_path):
    rate = 48000
    t = np.arange(rate) / rate
    sf.write(tmp_path / "a440.wav", 0.5 * np.sin(2 * np.pi * 440 * t), rate)
    y = load_audio(tmp_path / "a440.wav", 44100)[0]
    assert y.shape[0] == 44100
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.shape[0])))
    assert abs(np.argmax(spectrum) * 44100 / y.shape[0] - 440) < 2


def _bad_files(tmp_path, choir):
    data, rate = choir
    files = {}
    for ext, fmt, subtype in [
        ("wav", "WAV", "PCM_16"),
        ("aiff", "AIFF", "PCM_16"),
        ("flac", "FLAC", "PCM_16"),
    ]:
        good = tmp_path / f"good.{ext}"
        sf.write(good, data, rate, format=fmt, subtype=subtype)
        raw = good.read_bytes()
        files[f"truncated.{ext}"] = raw[: len(raw) // 3]
    files["empty.wav"] = b""
    files["garbage.wav"] = b"RIFF" + bytes(range(256)) * 4
    files["text.flac"] = b"not audio at all"
    out = {}
    for name, raw in files.items():
        (tmp_path / name).write_bytes(raw)
        out[name] = tmp_path / name
    sf.write(tmp_path / "zero.wav", np.zeros((0, 1)), 44100)
    out["zero.wav"] = tmp_path / "zero.wav"
    return out


def test_bad_files_raise_a_reason(tmp_path, choir):
    reasons = {}
    for name, path in _bad_files(tmp_path, choir).items():
        with pytest.raises(AudioFileError) as err:
            read_audio(path)
        reasons[name] = str(err.value)
    assert reasons["empty.wav"].startswith("empty file")
    assert reasons["zero.wav"].startswith("zero-length")
    assert reasons["truncated.wav"].startswith("truncated")
    assert reasons["truncated.aiff"].startswith("truncated")
    assert reasons["garbage.wav"].startswith("unreadable")
    assert "unreadable" in reasons["truncated.flac"] or "truncated" in reasons["truncated.flac"]


def test_non_finite_samples_are_refused(tmp_path):
    x = np.zeros(1000, dtype=np.float32)
    x[10] = np.nan
    sf.write(tmp_path / "nan.wav", x, 44100, subtype="FLOAT")
    with pytest.raises(AudioFileError, match="NaN"):
        read_audio(tmp_path / "nan.wav")
