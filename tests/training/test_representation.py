"""The invertible spectral representation: exact round trips, torch parity, ONNX export."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")

from gesturegan.training.representation import (  # noqa: E402
    ISTFT,
    STFT,
    MagPhase,
    STFTConfig,
    to_mag_phase,
)

CONFIGS = [STFTConfig(1024, 256), STFTConfig(512, 128), STFTConfig(2048, 512)]


def _torch_stft(x: torch.Tensor, cfg: STFTConfig) -> torch.Tensor:
    return torch.stft(
        x,
        cfg.n_fft,
        cfg.hop,
        window=torch.hann_window(cfg.n_fft),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )


@pytest.mark.slow
def test_round_trip_of_every_corpus_file_beats_40_db(corpus, record_property):
    """waveform -> (log |S|, angle S) -> exp/cos/sin -> iSTFT, on every file, stereo kept.

    Through the exported (convolution) forms of both transforms.
    """
    cfg = STFTConfig()
    stft, istft = STFT(cfg), ISTFT(cfg)
    stft.forward, head = stft.conv, istft.matmul
    snrs = {}
    for path in sorted(corpus.glob("*.flac")):
        data, _ = sf.read(path, dtype="float32", always_2d=True)
        x = torch.from_numpy(np.ascontiguousarray(data.T))[None]
        log_mag, phase = to_mag_phase(x, stft)
        mag = torch.exp(log_mag)
        y = head(mag * torch.cos(phase), mag * torch.sin(phase), x.shape[-1])
        snrs[path.name] = 10 * np.log10(float((x**2).sum() / ((x - y) ** 2).sum()))
    values = np.array(list(snrs.values()))
    record_property("snr_db_min", float(values.min()))
    record_property("snr_db_median", float(np.median(values)))
    assert len(snrs) == 165
    worst = min(snrs, key=snrs.get)
    assert values.min() >= 40.0, f"{worst}: {snrs[worst]:.1f} dB"


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.n_fft}-{c.hop}")
def test_stft_equals_torch_stft(cfg):
    x = torch.randn(3, 2, 12345)
    real, imag = STFT(cfg).conv(x)
    ref = _torch_stft(x.reshape(6, -1), cfg).reshape(3, 2, cfg.bins, -1)
    assert real.shape == ref.shape == (3, 2, cfg.bins, cfg.frames(12345))
    scale = ref.abs().max()
    assert float((real - ref.real).abs().max() / scale) < 1e-5
    assert float((imag - ref.imag).abs().max() / scale) < 1e-5


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c.n_fft}-{c.hop}")
@pytest.mark.parametrize("trim", [None, 77])
def test_istft_equals_torch_istft_within_1e4(cfg, trim):
    """On arbitrary spectra (not only ones that came from audio), full or cut length."""
    g = torch.Generator().manual_seed(0)
    frames = 160
    length = None if trim is None else (frames - 1) * cfg.hop - trim
    real = torch.randn(2, 1, cfg.bins, frames, generator=g)
    imag = torch.randn(2, 1, cfg.bins, frames, generator=g)
    imag[..., 0, :] = 0  # DC and Nyquist of a real signal have no imaginary part
    imag[..., -1, :] = 0
    ours = ISTFT(cfg).matmul(real, imag, length)  # the exported form
    assert float((ours - ISTFT(cfg).fft(real, imag, length)).abs().max()) < 1e-4  # training form
    assert float((ours - ISTFT(cfg).conv(real, imag, length)).abs().max()) < 1e-4  # ConvTranspose1d form
    ref = torch.istft(
        torch.complex(real, imag)[:, 0],
        cfg.n_fft,
        cfg.hop,
        window=torch.hann_window(cfg.n_fft),
        center=True,
        length=length,
    )
    assert ours.shape[-1] == ref.shape[-1]
    assert float((ours[:, 0] - ref).abs().max()) < 1e-4


def _tone_between_bins(phase_integrate: bool) -> tuple[float, float]:
    """A partial at 440 Hz (between two bins at n_fft 1024) given by one constant per bin and frame.

    Returns the loudest frequency of the result and its median level from 1 to 5 kHz in dB
    below that peak.
    """
    import math

    sr, f0 = 44100, 440.0
    cfg, n = STFTConfig(1024, 256), 65536
    head = MagPhase(cfg, n, phase_advance=True)
    k = torch.arange(cfg.bins, dtype=torch.float64)
    lobe = torch.exp(-0.5 * ((k - f0 / sr * cfg.n_fft) / 0.8) ** 2)
    log_mag = torch.log(100 * lobe + 1e-6).float()[None, None, :, None].expand(1, 1, -1, cfg.frames(n))
    # the partial's phase change per frame, less each bin's own rotation
    change = torch.remainder(2 * math.pi * cfg.hop * (f0 / sr - k / cfg.n_fft), 2 * math.pi).float()
    change = change[None, None, :, None].expand_as(log_mag).contiguous()
    audio = head(log_mag, torch.zeros_like(change), change) if phase_integrate else head(log_mag, change)
    audio = audio[0, 0].numpy()
    window = audio[8192 : 8192 + 16384] * np.hanning(16384)
    level = 20 * np.log10(np.abs(np.fft.rfft(window)) + 1e-12)
    freqs = np.fft.rfftfreq(16384, 1 / sr)
    return float(freqs[level.argmax()]), float(
        level.max() - np.median(level[(freqs > 1000) & (freqs < 5000)])
    )


def test_a_summed_phase_change_makes_a_steady_partial_from_a_constant():
    peak, clean = _tone_between_bins(phase_integrate=True)
    assert abs(peak - 440) < 5 and clean > 100
    # the same constant read as a deviation (not integrated) plays the bin's own 430.7 Hz instead
    peak, _ = _tone_between_bins(phase_integrate=False)
    assert abs(peak - 440) > 5


@pytest.mark.parametrize("phase_integrate", [False, True])
def test_mag_phase_head_exports_to_onnx_with_dynamic_batch(phase_integrate):
    import onnxruntime as ort

    cfg, n_samples = STFTConfig(), 65536
    head = MagPhase(cfg, n_samples, phase_advance=True).eval()
    frames = cfg.frames(n_samples)
    names = ["log_mag", "phase", "change"] if phase_integrate else ["log_mag", "phase"]

    def inputs(batch: int) -> list[torch.Tensor]:
        spectra = [torch.randn(batch, 1, cfg.bins, frames) - 3, torch.rand(batch, 1, cfg.bins, frames) * 6.3]
        return [*spectra, 0.1 * torch.randn(batch, 1, cfg.bins, frames)][: len(names)]

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            head,
            tuple(inputs(2)),
            buf,
            dynamo=False,
            opset_version=17,
            input_names=names,
            output_names=["audio"],
            dynamic_axes={name: {0: "batch"} for name in [*names, "audio"]},
        )
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = inputs(batch)
        (audio,) = session.run(None, {n: t.numpy() for n, t in zip(names, x, strict=True)})
        assert audio.shape == (batch, 1, n_samples)
        np.testing.assert_allclose(audio, head(*x).numpy(), atol=2e-5)


def test_asking_more_samples_than_the_frames_cover_is_refused():
    cfg = STFTConfig(512, 128)
    spec = torch.zeros(1, 1, cfg.bins, 10)
    for form in (ISTFT(cfg).conv, ISTFT(cfg).matmul, ISTFT(cfg).fft):
        with pytest.raises(ValueError, match="cover"):
            form(spec, spec, 9 * 128 + 256 + 1)


def test_head_never_overflows():
    cfg = STFTConfig(512, 128)
    head = MagPhase(cfg, 8192)
    wild = torch.full((1, 1, cfg.bins, cfg.frames(8192)), 1e4)
    assert torch.isfinite(head(wild, torch.zeros_like(wild))).all()


@pytest.mark.parametrize(("n_fft", "hop"), [(1000, 250), (1024, 1024), (8, 2)])
def test_bad_configs_are_refused(n_fft, hop):
    with pytest.raises(ValueError):
        STFTConfig(n_fft, hop)
