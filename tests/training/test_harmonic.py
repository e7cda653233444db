"""The harmonic branch: sines at its f0, taught from pYIN tracks, grown onto a trained run."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from gesturegan.training.models.harmonic import HarmonicBranch, mix_contours, pitch_loss, unpitched_share
from gesturegan.training.pitch import F0_MAX_HZ, F0_MIN_HZ, PitchTracks, hold_pitch


def _branch(
    harmonics: int, f0_start: float, f0_end: float, rate: int = 16000, n: int = 16384, hop: int = 256
):
    """A branch and logits ``[1, 1, 2 + H, N]`` whose f0 glides from ``f0_start`` to ``f0_end``
    (in log frequency), loud, with every partial alike."""
    branch = HarmonicBranch(2, 1, harmonics, hop, n, rate)
    frames = n // hop + 1
    start, end = (math.log2(f / F0_MIN_HZ) / math.log2(F0_MAX_HZ / F0_MIN_HZ) for f in (f0_start, f0_end))
    logits = torch.zeros(1, 1, 2 + harmonics, frames)
    logits[0, 0, 0] = torch.logit(torch.linspace(start, end, frames, dtype=torch.float64)).float()
    logits[0, 0, 1] = 2.0  # loud
    return branch, logits


class _Play(torch.nn.Module):
    """The branch from its logits, for export."""

    def __init__(self, branch: HarmonicBranch):
        super().__init__()
        self.branch = branch

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return self.branch.synthesize(*self.branch.controls(logits))


def test_a_steady_f0_plays_its_partials_and_nothing_between():
    branch, logits = _branch(6, 220.0, 220.0)
    with torch.no_grad():
        audio = _Play(branch)(logits)[0, 0].numpy()
    power = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    hz = np.fft.rfftfreq(len(audio), 1 / 16000)
    near = np.zeros_like(power, bool)
    for h in range(1, 7):
        near |= np.abs(hz - 220.0 * h) < 4.0
    assert power[near].sum() / power.sum() > 0.999
    # the softmax over six partials starts even: each partial carries about a sixth
    shares = [power[np.abs(hz - 220.0 * h) < 4.0].sum() for h in range(1, 7)]
    assert max(shares) / min(shares) < 1.2


def test_a_glide_is_continuous_across_hops():
    """A single partial's instantaneous frequency follows the glide sample by sample: no phase
    step where one hop ends and the next begins."""
    from scipy.signal import hilbert

    branch, logits = _branch(1, 110.0, 440.0)
    with torch.no_grad():
        audio = _Play(branch)(logits)[0, 0].double().numpy()
    phase = np.unwrap(np.angle(hilbert(audio)))
    inst_hz = np.diff(phase) * 16000 / (2 * np.pi)
    log_f0 = torch.linspace(math.log2(110.0), math.log2(440.0), 16384 // 256 + 1, dtype=torch.float64)
    expected = np.interp(np.arange(len(inst_hz)) + 0.5, np.arange(len(log_f0)) * 256, 2 ** log_f0.numpy())
    middle = slice(512, -512)  # the analytic signal is unreliable at the clip's two ends
    smoothed = np.convolve(inst_hz, np.ones(256) / 256, "same")
    assert np.abs(smoothed[middle] - expected[middle]).max() < 1.0  # follows the glide
    # a phase step of 0.1 rad at a hop boundary would be a spike of 250 Hz in one sample; the
    # analytic signal's own jitter is a few Hz
    assert np.abs(inst_hz[middle] - expected[middle]).max() < 15.0


def test_the_partials_recurrence_plays_what_one_sine_per_partial_plays():
    """``synthesize`` builds partial h from the two below it; a float64 sum of one sine per
    partial, with the same f0 glide and amplitudes moving linearly between frames, is the truth."""
    hop, frames, harmonics, rate = 256, 33, 16, 16000
    branch = HarmonicBranch(2, 1, harmonics, hop, hop * (frames - 1), rate)
    gen = torch.Generator().manual_seed(4)
    log2_f0 = torch.linspace(math.log2(55.0), math.log2(330.0), frames).view(1, 1, frames)
    amplitudes = torch.rand(1, 1, harmonics, frames, generator=gen) / harmonics  # uneven, and moving
    with torch.no_grad():
        played = branch.synthesize(log2_f0, amplitudes)[0, 0].double().numpy()

    cycles = 2 ** log2_f0[0, 0].double().numpy() / rate  # per sample, at each frame
    j = np.arange(hop)
    phase, level = [], []
    done = 0.0
    for i in range(frames - 1):
        s, e = cycles[i], cycles[i + 1]
        phase.append(done + s * j + (e - s) * j * j / (2 * hop))
        done += hop * (s + e) / 2
        a, b = amplitudes[0, 0, :, i].double().numpy(), amplitudes[0, 0, :, i + 1].double().numpy()
        level.append(a[:, None] + (b - a)[:, None] * j / hop)  # [H, hop]
    phase, level = np.concatenate(phase), np.concatenate(level, axis=1)
    numbers = np.arange(1, harmonics + 1)[:, None]
    truth = (level * np.sin(2 * np.pi * numbers * phase)).sum(axis=0)
    assert np.abs(truth).max() > 0.1
    # float32 phase alone (one sine per partial in float32 too) is off by up to about 3e-5 here
    np.testing.assert_allclose(played, truth, atol=1e-4)


def _spectral_against_sines(branch: HarmonicBranch, log2_f0: torch.Tensor, amplitudes: torch.Tensor) -> float:
    """Error of ``spectrum``, through the inverse STFT, against ``synthesize``, in dB of the sines'
    energy, away from the clip's two ends (where the centred STFT's frames are cut)."""
    from gesturegan.training.representation import ISTFT, STFTConfig

    sines = branch.synthesize(log2_f0, amplitudes)
    istft = ISTFT(STFTConfig(n_fft=branch.n_fft, hop=branch.hop))
    spectral = istft.fft(*branch.spectrum(log2_f0, amplitudes), sines.shape[-1])
    inner = slice(branch.n_fft, -branch.n_fft)
    error = (spectral - sines)[..., inner].pow(2).sum() / sines[..., inner].pow(2).sum()
    return 10 * math.log10(float(error))


@pytest.mark.parametrize(
    "hz, rate, bound_db",
    [
        (220.0, 16000, -55.0),
        # the fundamental exactly on a bin (16 Hz bins, f0 a power of two): every partial at the
        # kernel's 0 / 0, where its limit is taken
        (128.0, 16384, -55.0),
        (31.0, 16000, -55.0),  # the lowest partials within two bins of 0: their images fold back
        (1010.0, 16000, -55.0),  # partials 8 to 16 at or above Nyquist
    ],
)
def test_spectral_partials_play_what_the_sines_play(hz, rate, bound_db):
    """``spectrum`` (the partials written into the STFT, FFT^-1 synthesis) against ``synthesize``:
    steady partials alike to -55 dB, whether a partial sits between bins, on one, near 0 Hz or
    near Nyquist."""
    frames, harmonics = 65, 16
    branch = HarmonicBranch(2, 1, harmonics, 256, 256 * (frames - 1), rate, n_fft=1024)
    gen = torch.Generator().manual_seed(2)
    amplitudes = torch.rand(1, 1, harmonics, 1, generator=gen).expand(1, 1, harmonics, frames) / harmonics
    audible = (hz * torch.arange(1, harmonics + 1) < rate / 2).float().view(1, 1, -1, 1)
    log2_f0 = torch.full((1, 1, frames), math.log2(hz))
    assert _spectral_against_sines(branch, log2_f0, amplitudes * audible) < bound_db


def test_spectral_partials_follow_a_glide_and_a_moving_level():
    """An octave's glide in 0.75 s (at 44.1 kHz, the bundled models' rate) with partials fading in
    and out: the frames' steady sines, crossfaded by the window, stay within -30 dB of the sines
    that glide sample by sample (about -35 dB; an octave in 0.4 s comes to -31 dB)."""
    frames, harmonics = 129, 8
    branch = HarmonicBranch(2, 1, harmonics, 256, 256 * (frames - 1), 44100, n_fft=1024)
    log2_f0 = torch.linspace(math.log2(110.0), math.log2(220.0), frames).view(1, 1, frames)
    level = 0.5 + 0.5 * torch.sin(torch.linspace(0, 6, frames))
    amplitudes = (level * torch.linspace(1.0, 0.2, harmonics).view(-1, 1) / harmonics).view(
        1, 1, harmonics, frames
    )
    assert _spectral_against_sines(branch, log2_f0, amplitudes) < -30.0


def test_spectral_partials_have_finite_gradients_on_a_bin():
    """Where a partial sits exactly on a bin the kernel's quotient is 0 / 0; its limit is taken, and
    the gradient through the branch that is not taken must not turn into NaN."""
    frames, harmonics = 9, 4
    # 16 Hz bins and f0 = 2^7 Hz: every partial exactly on a bin in float32 (8, 16, 24, 32)
    branch = HarmonicBranch(2, 1, harmonics, 256, 256 * (frames - 1), 16384, n_fft=1024)
    log2_f0 = torch.full((1, 1, frames), 7.0, requires_grad=True)
    amplitudes = torch.full((1, 1, harmonics, frames), 0.1, requires_grad=True)
    real, imag = branch.spectrum(log2_f0, amplitudes)
    (real.square().sum() + imag.square().sum()).backward()
    assert torch.isfinite(log2_f0.grad).all() and torch.isfinite(amplitudes.grad).all()
    assert amplitudes.grad.abs().sum() > 0


def test_partials_above_nyquist_are_silent():
    branch, logits = _branch(32, 1010.0, 1010.0)  # partials 8 to 32 would be above 8 kHz
    with torch.no_grad():
        _, amplitudes = branch.controls(logits)
    assert torch.all(amplitudes[0, 0, 7:] == 0) and torch.all(amplitudes[0, 0, :7] > 0)
    with torch.no_grad():
        audio = _Play(branch)(logits)[0, 0].numpy()
    power = np.abs(np.fft.rfft(audio * np.hanning(len(audio)))) ** 2
    hz = np.fft.rfftfreq(len(audio), 1 / 16000)
    assert power[hz > 7600].sum() / power.sum() < 1e-6


def test_the_pitch_loss_counts_voiced_frames_only():
    target = torch.tensor([[[220.0, 0.0, 440.0]]])
    voiced = torch.tensor([[[1.0, 0.9, 0.0]]])
    right = torch.log2(torch.tensor([[[220.0, 55.0, 880.0]]]))  # frame 1 has no pitch, frame 2 no voicing
    assert float(pitch_loss(right, target, voiced)) == pytest.approx(0.0, abs=1e-6)
    octave_up = right + torch.tensor([[[1.0, 0.0, 0.0]]])
    assert float(pitch_loss(octave_up, target, voiced)) == pytest.approx(1.0, rel=1e-5)


def test_the_branch_exports_and_onnxruntime_plays_the_same_partials(tmp_path):
    import onnxruntime as ort

    from gesturegan.export.onnx_export import _magnitudes

    branch, logits = _branch(8, 110.0, 330.0)
    path = tmp_path / "branch.onnx"
    play = _Play(branch)
    torch.onnx.export(play, (logits,), path, input_names=["x"], output_names=["audio"], dynamo=False)
    (got,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": logits.numpy()}
    )
    with torch.no_grad():
        want = play(logits).numpy()
    assert got.shape == want.shape == (1, 1, 16384)
    assert np.abs(_magnitudes(got) - _magnitudes(want)).max() < 1e-3


def _few_clips(corpus, out, per_category: int = 6):
    """The tiny dataset's shape (16 kHz, 8192 samples) from ``per_category`` corpus files of each
    category: pYIN over the whole corpus would take a minute."""
    import csv

    from gesturegan.training.prepare import PrepareConfig, prepare

    rows = list(csv.DictReader((corpus / "labels.csv").open()))
    chosen: list[dict] = []
    for category in sorted({r["category"] for r in rows}):
        chosen += [r for r in rows if r["category"] == category][:per_category]
    src = out.parent / "few"
    src.mkdir()
    for r in chosen:
        (src / r["file"]).symlink_to(corpus / r["file"])
    with (src / "labels.csv").open("w") as f:
        f.write("file,category\n" + "".join(f"{r['file']},{r['category']}\n" for r in chosen))
    prepare([src], out, PrepareConfig(sample_rate=16000, n_samples=8192), progress=False)
    return out


@pytest.mark.slow
def test_a_run_grows_a_harmonic_branch_and_learns_its_pitch(tiny_runs, corpus, tmp_path):
    """--init-from with a config that adds the branch: every old weight goes on, the branch starts
    silent, pYIN tracks are written once beside the data and the pitch loss is logged."""
    from gesturegan.training.loop import train
    from gesturegan.training.pitch import PITCH_FILE
    from gesturegan.training.state import latest_checkpoint, read_checkpoint

    data = _few_clips(corpus, tmp_path / "data")
    source = latest_checkpoint(tiny_runs["twostage"])
    config = tmp_path / "grow.toml"
    config.write_text("[model]\nharmonics = 4\n[train]\nmax_steps = 6\n")
    lines: list[str] = []
    run = train(
        data, "twostage", tmp_path / "run", config=config, init_from=source, progress=False, log=lines.append
    )
    assert any("new weights start fresh (generator.decoder.harmonic.proj." in line for line in lines), lines
    assert (data / PITCH_FILE).exists()
    with np.load(data / PITCH_FILE) as tracks:
        assert tracks["f0_hz"].shape[0] == len(np.load(data / "labels.npy"))
        assert (tracks["voiced"] > 0.5).any()  # the corpus has pitched sounds
    logged = [json.loads(line) for line in (run.run / "log.jsonl").read_text().splitlines()]
    assert any("loss/pitch_octaves" in entry for entry in logged)
    old, new = read_checkpoint(source), read_checkpoint(latest_checkpoint(run.run))
    assert "decoder.harmonic.proj.2.weight" in new["generator"]
    assert new["config"]["model"]["harmonics"] == 4 and new["step"] == 6
    assert set(old["generator"]) <= set(new["generator"])


def test_growing_refuses_a_config_that_reshapes_a_weight(tiny_runs):
    from dataclasses import replace

    from gesturegan.training.config import Config
    from gesturegan.training.state import grow_checkpoint, latest_checkpoint, read_checkpoint

    ckpt = read_checkpoint(latest_checkpoint(tiny_runs["twostage"]))
    cfg = Config.from_dict(ckpt["config"])
    grown, added = grow_checkpoint(ckpt, replace(cfg, model=replace(cfg.model, harmonics=4)))
    assert added == [f"generator.decoder.harmonic.proj.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")]
    for name, tensor in ckpt["generator"].items():
        assert torch.equal(grown["generator"][name], tensor)
    # Adam's moments follow their weights by name, not by position
    assert len(grown["opt_g"]["state"]) == len(ckpt["opt_g"]["state"])
    with pytest.raises(ValueError, match="changes shape"):
        grow_checkpoint(ckpt, replace(cfg, model=replace(cfg.model, code_dim=cfg.model.code_dim * 2)))


def test_reconstructions_play_the_tracked_pitch_and_the_branch_learns_its_own_from_the_pitch_loss(
    tiny_dataset,
):
    """Teacher forcing: with tracks, voiced frames play the tracked f0 whatever the branch says, so
    the audio losses cannot pull the branch's f0 (or silence its partials while that f0 is wrong)."""
    from dataclasses import replace

    from gesturegan.training.config import load_config
    from gesturegan.training.data import load_dataset
    from gesturegan.training.models import build
    from gesturegan.training.models.twostage import AutoencoderView

    data = load_dataset(tiny_dataset)
    cfg = load_config("twostage", "tiny")
    cfg = replace(cfg, model=replace(cfg.model, harmonics=4))
    generator, critic = build(cfg, data.shape)
    view = AutoencoderView(generator, critic.encoder).eval()
    last = generator.decoder.harmonic.proj[-1]
    with torch.no_grad():
        last.bias[1] = 2.0  # loud partials, so where they sit shows in the audio
    audio = torch.from_numpy(np.stack([data.audio[i] for i in range(2)]))
    noise = torch.zeros(2, generator.code_dim)
    frames = generator.decoder.n_frames
    pitch = (torch.full((2, 1, frames), 220.0), torch.ones(2, 1, frames))
    with torch.no_grad():
        forced, *_, predicted = view(audio, noise, pitch=pitch)
        free = view(audio, noise)[0]
        last.bias[0] += 1.0  # the branch's own f0 moves up
        forced_again, *_, predicted_again = view(audio, noise, pitch=pitch)
        free_again = view(audio, noise)[0]
    torch.testing.assert_close(forced_again, forced)  # the tracked f0 plays, not the branch's
    assert (free_again - free).abs().max() > 1e-3  # without tracks the branch's own f0 plays
    assert torch.all(predicted_again > predicted)  # and is what the pitch loss sees
    # the audio's gradient does not reach the f0 the branch would play
    last.zero_grad()
    recon, *_ = view(audio, noise, pitch=pitch)
    recon.square().sum().backward()
    grad = last.weight.grad.view(1, 2 + 4, -1)
    assert torch.all(grad[:, 0] == 0) and grad[:, 1].abs().sum() > 0


def _generator_with_contours(tiny_dataset):
    """A tiny two-stage generator with 4 partials (loud), its posterior prior fitted with made-up
    tracks: clip j of category k at ``100 (k + 1) 1.05^j`` Hz, voiced in every frame."""
    from dataclasses import replace

    from gesturegan.training.config import load_config
    from gesturegan.training.data import load_dataset
    from gesturegan.training.models import build
    from gesturegan.training.models.twostage import fit_prior

    data = load_dataset(tiny_dataset)
    cfg = load_config("twostage", "tiny")
    cfg = replace(cfg, model=replace(cfg.model, harmonics=4, prior="posterior"))
    generator, critic = build(cfg, data.shape)
    generator.eval()
    with torch.no_grad():
        generator.decoder.harmonic.proj[-1].bias[1] = 2.0
    frames = generator.decoder.n_frames
    by_category, pitch, hz = [], [], []
    for k in range(len(data.categories)):
        clips = np.stack([data.audio[i] for i in np.flatnonzero(data.labels == k)])
        f0 = (100.0 * (k + 1) * 1.05 ** np.arange(len(clips))).astype(np.float32)
        by_category.append(clips)
        pitch.append(
            (np.repeat(f0[:, None, None], frames, axis=2), np.ones((len(clips), 1, frames), np.float32))
        )
        hz.append(f0)
    fit_prior(
        [generator], critic.encoder, by_category, data.categories, kind="posterior", pitch_by_category=pitch
    )
    return generator, hz, critic.encoder, by_category


def test_a_draw_plays_its_components_contour_and_a_morph_glides_between_two(tiny_dataset):
    """f0 as part of the prior: each component keeps its clip's tracked contour; a draw plays it
    (the branch's own f0 does not matter in voiced frames), a morph of two voiced contours plays
    their geometric mean, and where only one is voiced the voicing fades to the branch's own f0."""
    from gesturegan.training.models.twostage import encode

    generator, hz, encoder, by_category = _generator_with_contours(tiny_dataset)
    k = len(hz)
    z = torch.randn(6, generator.latent_dim, generator=torch.Generator().manual_seed(3))
    pure = torch.eye(k)[torch.arange(6) % k]
    with torch.no_grad():
        log2_f0, voiced = generator.contour(z, pure)
    assert log2_f0.shape == voiced.shape == (6, 1, generator.decoder.n_frames)
    assert torch.all(voiced == 1)
    picked = generator.component(z)
    for row in range(6):
        category = row % k
        # the clip whose code the picked component holds is the clip whose contour it plays
        mu, _ = encode(encoder, by_category[category])
        held = generator.prior_mean[category, int(picked[row, category])].numpy()
        clip = int(np.argmin(np.abs(mu - held).sum(axis=1)))
        assert np.abs(mu[clip] - held).max() < 1e-5
        want = math.log2(hz[category][clip])
        torch.testing.assert_close(log2_f0[row], torch.full_like(log2_f0[row], want))

    last = generator.decoder.harmonic.proj[-1]
    with torch.no_grad():
        before = generator(z, pure)
        last.bias[0] += 1.0  # the branch's own f0 moves up: voiced draws do not follow it
        torch.testing.assert_close(generator(z, pure), before)
        generator.prior_voiced.zero_()  # unvoiced: they do
        assert (generator(z, pure) - before).abs().max() > 1e-3
        generator.prior_voiced.fill_(1.0)

        half = torch.zeros(6, k)
        half[:, 0] = half[:, 1] = 0.5
        a, _ = generator.contour(z, torch.eye(k)[[0] * 6])
        b, _ = generator.contour(z, torch.eye(k)[[1] * 6])
        mixed, voicing = generator.contour(z, half)
        torch.testing.assert_close(mixed, (a + b) / 2)
        assert torch.all(voicing == 1)
        generator.prior_voiced[1, :, :, :10] = 0.0  # category 1 unvoiced in its first ten frames
        mixed, voicing = generator.contour(z, half)
        # its pitch there is held (a gated prior's): it counts a thousandth of a voiced one's
        assert (mixed[..., :10] - a[..., :10]).abs().max() < 2e-3 * (b - a).abs().max()
        assert (mixed[..., :10] - a[..., :10]).abs().max() > 0
        generator.prior_log2_f0[1, :, :, :10] = 0.0  # no pitch at all there (an ungated prior's)
        mixed, voicing = generator.contour(z, half)
        torch.testing.assert_close(mixed[..., :10], a[..., :10])  # the voiced one's pitch
        assert torch.all(voicing[..., :10] == 0.5) and torch.all(voicing[..., 10:] == 1)


def test_contours_export_and_old_checkpoints_load_unvoiced(tiny_dataset, tmp_path):
    import onnxruntime as ort

    from gesturegan.export.onnx_export import GeneratorGraph, _magnitudes, _to_onnx

    generator, hz, *_ = _generator_with_contours(tiny_dataset)
    k = len(hz)
    graph = GeneratorGraph(generator).eval()
    z = torch.randn(3, generator.latent_dim, generator=torch.Generator().manual_seed(5))
    cond = torch.tensor([[1.0] + [0.0] * (k - 1), [0.0, 1.0] + [0.0] * (k - 2), [0.3, 0.7] + [0.0] * (k - 2)])
    raw = _to_onnx(graph, (z[:1], cond[:1]), ["z", "cond"], ["audio"], 17)
    session = ort.InferenceSession(raw, providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"z": z.numpy(), "cond": cond.numpy()})
    with torch.no_grad():
        want = graph(z, cond).numpy()
    assert np.abs(_magnitudes(got) - _magnitudes(want)).max() < 1e-3
    assert generator.describe()["f0"].startswith("each prior component plays")

    # a checkpoint from before the contours: every frame unvoiced, the branch's own f0 as it was
    state = {
        n: t for n, t in generator.state_dict().items() if not n.startswith(("prior_log2_f0", "prior_voiced"))
    }
    generator.load_state_dict(state)
    assert not generator.prior_voiced.any()
    assert generator.describe()["f0"].startswith("the harmonic branch's own")


def test_a_spectral_branch_exports_and_plays_as_it_does_in_torch(tiny_dataset):
    """The same generator with its partials written into the spectrum: onnxruntime plays what torch
    plays, close to the sines it was built with, and the model says how its partials are played."""
    import onnxruntime as ort

    from gesturegan.export.onnx_export import GeneratorGraph, _magnitudes, _to_onnx

    generator, hz, *_ = _generator_with_contours(tiny_dataset)
    k = len(hz)
    z = torch.randn(4, generator.latent_dim, generator=torch.Generator().manual_seed(6))
    cond = torch.eye(k)[torch.arange(4) % k]
    graph = GeneratorGraph(generator).eval()
    with torch.no_grad():
        sines = graph(z, cond).numpy()
        generator.decoder.harmonic.spectral = True
        spectral = graph(z, cond).numpy()
    assert generator.describe()["harmonic_synthesis"] == "spectral"
    raw = _to_onnx(graph, (z[:1], cond[:1]), ["z", "cond"], ["audio"], 17)
    (got,) = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(
        None, {"z": z.numpy(), "cond": cond.numpy()}
    )
    # as magnitudes: float32's last bit in f0 drifts a partial's phase over the clip (verify_generator)
    assert np.abs(_magnitudes(got) - _magnitudes(spectral)).max() < 1e-3
    assert np.abs(_magnitudes(spectral) - _magnitudes(sines)).max() < 0.05 * np.abs(_magnitudes(sines)).max()


def test_a_gated_branch_exports_and_plays_its_voicing_as_it_does_in_torch(tiny_dataset):
    """A gated, spectral generator whose prior's contours are voiced in their first half only:
    onnxruntime plays what torch plays, and the partials are gone where the contours are not voiced."""
    import onnxruntime as ort

    from gesturegan.export.onnx_export import GeneratorGraph, _magnitudes, _to_onnx

    generator, hz, *_ = _generator_with_contours(tiny_dataset)
    generator.decoder.harmonic.gate = generator.decoder.harmonic.spectral = True
    frames = generator.decoder.n_frames
    with torch.no_grad():
        generator.prior_voiced[..., frames // 2 :] = 0.0  # pitch held there, unvoiced
    k = len(hz)
    z = torch.randn(4, generator.latent_dim, generator=torch.Generator().manual_seed(7))
    cond = torch.eye(k)[torch.arange(4) % k]
    graph = GeneratorGraph(generator).eval()
    with torch.no_grad():
        gated = graph(z, cond).numpy()
        x = generator.body(z, cond)
        head_only = generator.decoder.out(*generator.decoder.head_spectra(x.float())).numpy()
    raw = _to_onnx(graph, (z[:1], cond[:1]), ["z", "cond"], ["audio"], 17)
    (got,) = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(
        None, {"z": z.numpy(), "cond": cond.numpy()}
    )
    assert np.abs(_magnitudes(got) - _magnitudes(gated)).max() < 1e-3
    hop = generator.decoder.harmonic.hop
    tail = slice((frames // 2 + 4) * hop, None)  # past the last voiced frame and the window's reach
    head = slice(0, (frames // 2 - 4) * hop)
    assert np.abs(gated[..., tail] - head_only[..., tail]).max() < 1e-4 * np.abs(head_only).max()
    assert np.abs(gated[..., head] - head_only[..., head]).max() > 1e-2 * np.abs(head_only).max()


def test_held_pitch_takes_the_nearest_voiced_frames_and_keeps_the_voicing():
    f0 = np.array(
        [[[0, 0, 100, 0, 0, 0, 200, 0]], [[0, 0, 0, 0, 0, 0, 0, 0]], [[50, 0, 0, 0, 0, 0, 0, 60]]], np.float32
    )
    probability = np.where(f0 > 0, 0.9, 0.1).astype(np.float32)
    probability[2, 0, 7] = 0.4  # a pitch pYIN doubted: not voiced, so it is not held from
    held = hold_pitch(PitchTracks(f0, probability))
    # before the first voiced frame its pitch; after the last, the last's; a tie goes to the earlier
    np.testing.assert_array_equal(held.f0_hz[0, 0], [100, 100, 100, 100, 100, 200, 200, 200])
    np.testing.assert_array_equal(held.f0_hz[1, 0], 0)  # no voiced frame: nothing to hold
    np.testing.assert_array_equal(held.f0_hz[2, 0], 50)
    np.testing.assert_array_equal(held.voiced, probability)


def test_a_gated_branch_sounds_only_where_its_contour_is_voiced_and_at_its_pitch():
    branch, logits = _branch(4, 220.0, 220.0)
    branch.gate = True
    frames = logits.shape[-1]
    contour = torch.full((1, 1, frames), math.log2(440.0))
    voiced = torch.zeros(1, 1, frames)
    voiced[..., : frames // 2] = 1.0
    with torch.no_grad():
        audio = branch.synthesize(*branch.controls(logits, contour, voiced))[0, 0].numpy()
        logits[0, 0, 0] += 3.0  # the branch's own f0 moves: a gated branch does not follow it
        again = branch.synthesize(*branch.controls(logits, contour, voiced))[0, 0].numpy()
        halved = branch.synthesize(*branch.controls(logits, contour, voiced / 2))[0, 0].numpy()
    np.testing.assert_array_equal(audio, again)
    np.testing.assert_allclose(halved, audio / 2, atol=1e-6)
    hop, half = 256, (frames // 2) * 256
    assert np.abs(audio[half:]).max() == 0  # silent from the first unvoiced frame on
    voiced_part = audio[: half - hop]
    power = np.abs(np.fft.rfft(voiced_part * np.hanning(len(voiced_part)))) ** 2
    hz = np.fft.rfftfreq(len(voiced_part), 1 / 16000)
    near = np.zeros_like(power, bool)
    for h in range(1, 5):
        near |= np.abs(hz - 440.0 * h) < 8.0
    assert power[near].sum() / power.sum() > 0.99  # at the contour's pitch, not its own 220 Hz


def test_mixed_contours_crossfade_the_voicing_and_keep_a_held_pitch():
    log2_f0 = torch.tensor([[[[7.0, 7.0, 0.0]]], [[[8.0, 9.0, 0.0]]]]).transpose(0, 1)  # [1, 2, 1, 3]
    voiced = torch.tensor([[[[1.0, 0.0, 0.0]]], [[[1.0, 0.0, 0.0]]]]).transpose(0, 1)
    mixed, voicing = mix_contours(log2_f0, voiced, torch.tensor([[0.25, 0.75]]))
    torch.testing.assert_close(voicing, torch.tensor([[[1.0, 0.0, 0.0]]]))
    # voiced in both: a geometric glide; held in both: the same glide; no pitch in either: 0
    torch.testing.assert_close(mixed, torch.tensor([[[7.75, 8.5, 0.0]]]))


def test_a_freed_branch_plays_clips_without_a_pitch_as_an_ungated_one_and_glides_to_them():
    """``free_unpitched``: a contour from a clip without a pitch plays the branch's own f0,
    ungated; a share of one pulls f0 from the contour's towards the branch's own, geometrically,
    and opens the gate by that share, step by step (no jump in a morph)."""
    branch, logits = _branch(4, 220.0, 220.0)
    branch.gate = branch.free_unpitched = True
    frames = logits.shape[-1]
    held = torch.full((1, 1, frames), math.log2(440.0))  # a pitched clip's held pitch, unvoiced
    zeros, ones = torch.zeros(1, 1, frames), torch.ones(1, 1, frames)
    with torch.no_grad():
        ungated_f0, ungated_amplitudes = branch.controls(logits)
        free_f0, free_amplitudes = branch.controls(logits, zeros, zeros, ones)
        torch.testing.assert_close(free_f0, ungated_f0)
        torch.testing.assert_close(free_amplitudes, ungated_amplitudes)
        shares = torch.linspace(0.0, 1.0, 11)
        played = [branch.controls(logits, held, zeros, share * ones) for share in shares]
    f0 = torch.stack([p[0][0, 0, 0] for p in played])
    loudness = torch.stack([p[1][0, 0].sum(dim=0)[0] for p in played])
    torch.testing.assert_close(f0, torch.lerp(torch.tensor(math.log2(440.0)), ungated_f0[0, 0, 0], shares))
    torch.testing.assert_close(loudness, shares * ungated_amplitudes[0, 0].sum(dim=0)[0])
    # the synthesis teaches the amplitudes, never the branch's own f0 (the pitch loss does)
    logits.requires_grad_(True)
    f0_free, amplitudes_free = branch.controls(logits, zeros, zeros, ones)
    branch.synthesize(f0_free, amplitudes_free).square().sum().backward()
    assert logits.grad[0, 0, 0].abs().max() == 0 and logits.grad[0, 0, 2:].abs().max() > 0
    logits = logits.detach()
    # the same contour, told nothing about pitchless clips: gated as before (silent, unvoiced)
    with torch.no_grad():
        assert branch.controls(logits, held, zeros)[1].abs().max() == 0


def test_the_unpitched_share_counts_the_clips_without_a_pitch():
    log2_f0 = torch.tensor([[[[7.0, 7.0]]], [[[0.0, 0.0]]], [[[8.0, 8.0]]]]).transpose(0, 1)  # [1, 3, 1, 2]
    share = unpitched_share(log2_f0, torch.tensor([[0.2, 0.5, 0.3]]))
    torch.testing.assert_close(share, torch.tensor([[[0.5, 0.5]]]))


def test_the_prior_keeps_held_pitch_so_a_draw_knows_its_pitchless_clips(tiny_dataset):
    """Fitted on held tracks, a component keeps its clip's pitch in unvoiced frames and 0 only for
    a clip without any: what ``unpitched`` reads at generation (not 0 in every unvoiced frame)."""
    from gesturegan.training.models.twostage import fit_prior

    generator, hz, encoder, by_category = _generator_with_contours(tiny_dataset)
    frames = generator.decoder.n_frames
    pitch = []
    for k, clips in enumerate(by_category):
        f0 = np.full((len(clips), 1, frames), 220.0 if k == 0 else 0.0, np.float32)
        probability = np.zeros_like(f0)
        probability[..., : frames // 2] = 0.9 if k == 0 else 0.0  # category 0: held after half way
        pitch.append((f0, probability))
    fit_prior(
        [generator],
        encoder,
        by_category,
        [f"c{k}" for k in range(len(hz))],
        kind="posterior",
        pitch_by_category=pitch,
    )
    used = min(len(by_category[0]), generator.prior_log2_f0.shape[1])  # the components kept
    torch.testing.assert_close(
        generator.prior_log2_f0[0, :used], torch.full((used, 1, frames), math.log2(220.0))
    )
    assert torch.all(generator.prior_voiced[0, :used, :, frames // 2 :] == 0)
    assert torch.all(generator.prior_voiced[0, :used, :, : frames // 2] == 1)
    assert torch.all(generator.prior_log2_f0[1] == 0)
    z = torch.randn(4, generator.latent_dim, generator=torch.Generator().manual_seed(2))
    eye = torch.eye(len(hz))
    assert torch.all(generator.unpitched(z, eye[[0] * 4]) == 0)
    assert torch.all(generator.unpitched(z, eye[[1] * 4]) == 1)
    torch.testing.assert_close(
        generator.unpitched(z, 0.25 * eye[[0] * 4] + 0.75 * eye[[1] * 4]), torch.full((4, 1, frames), 0.75)
    )


def test_a_freed_branch_exports_and_plays_a_category_without_a_pitch_ungated(tiny_dataset):
    """A gated, freed, spectral generator whose category 1 has no pitch and whose category 0 is
    voiced in its first half: category 1 plays exactly as the ungated generator, category 0 does
    not (its partials stop where it is unvoiced), and onnxruntime plays what torch plays."""
    import onnxruntime as ort

    from gesturegan.export.onnx_export import GeneratorGraph, _magnitudes, _to_onnx

    generator, hz, *_ = _generator_with_contours(tiny_dataset)
    harmonic = generator.decoder.harmonic
    harmonic.gate = harmonic.free_unpitched = harmonic.spectral = True
    frames = generator.decoder.n_frames
    with torch.no_grad():
        generator.prior_log2_f0[1] = 0.0
        generator.prior_voiced[1] = 0.0
        generator.prior_voiced[0, ..., frames // 2 :] = 0.0  # pitch held there, unvoiced
    z = torch.randn(6, generator.latent_dim, generator=torch.Generator().manual_seed(3))
    cond = torch.eye(len(hz))[[1, 1, 1, 0, 0, 0]]
    graph = GeneratorGraph(generator).eval()
    with torch.no_grad():
        freed = graph(z, cond).numpy()
        unpitched = generator.unpitched(z, cond)
        harmonic.gate = False
        ungated = graph(z, cond).numpy()
        harmonic.gate = True
    assert torch.all(unpitched[:3] == 1) and torch.all(unpitched[3:] == 0)
    np.testing.assert_allclose(freed[:3], ungated[:3], atol=1e-6, rtol=0)
    assert np.abs(freed[3:] - ungated[3:]).max() > 1e-2 * np.abs(ungated[3:]).max()
    raw = _to_onnx(graph, (z[:1], cond[:1]), ["z", "cond"], ["audio"], 17)
    (got,) = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(
        None, {"z": z.numpy(), "cond": cond.numpy()}
    )
    # relative: where the branch's own f0 plays, onnxruntime's last bits in the features move f0
    # and drift the partials' phase over the clip (the spectral export test's contours hold f0)
    assert np.abs(_magnitudes(got) - _magnitudes(freed)).max() < 0.01 * np.abs(_magnitudes(freed)).max()


def test_gated_reconstructions_and_mixes_play_the_clips_contours(tiny_dataset):
    """A gated branch in training: each clip's partials at its held track, gated by its voicing;
    a mixed code's at its two clips' contours mixed as a drawn morph mixes them."""
    from dataclasses import replace

    from gesturegan.training.config import load_config
    from gesturegan.training.data import load_dataset
    from gesturegan.training.models import build
    from gesturegan.training.models.twostage import AutoencoderView

    data = load_dataset(tiny_dataset)
    cfg = load_config("twostage", "tiny")
    cfg = replace(cfg, model=replace(cfg.model, harmonics=4, harmonic_gate=True))
    generator, critic = build(cfg, data.shape)
    assert generator.describe()["harmonic_voicing"] == "gated by the contour"
    frames = generator.decoder.n_frames
    f0 = torch.full((4, 1, frames), 220.0)
    f0[1] = 0.0  # a clip without a pitch
    voiced = torch.ones(4, 1, frames)
    voiced[0, :, frames // 2 :] = 0.0  # a held pitch, unvoiced, in clip 0's second half
    teacher = torch.log2(f0.clamp_min(F0_MIN_HZ))
    tracked = (voiced > 0.5) & (f0 > 0)
    mix = torch.tensor([0.0, 0.5, 1.0, 0.25])
    played, gate, unpitched = AutoencoderView._gated_contours(teacher, tracked, f0 > 0, mix)
    assert played.shape == gate.shape == unpitched.shape == (8, 1, frames)
    # clip 1 has no pitch; mixed code 1 is half clip 1, mixed code 2 all of clip 1 (roll 1)
    torch.testing.assert_close(unpitched[:, 0, 0], torch.tensor([0.0, 1.0, 0.0, 0.0, 0.0, 0.5, 1.0, 0.0]))
    torch.testing.assert_close(gate[:4], tracked.float())
    torch.testing.assert_close(played[0], teacher[0])  # held, not the branch's own
    assert torch.all(played[1] == 0) and torch.all(gate[1] == 0)
    # mixed code 1 is clip 1 moved half way to clip 0 (roll 1): clip 0's pitch, half its voicing
    torch.testing.assert_close(played[5], teacher[0])
    torch.testing.assert_close(gate[5], 0.5 * tracked[0].float())
    torch.testing.assert_close(gate[4], tracked[0].float())  # mix 0: its own clip, clip 0

    view = AutoencoderView(generator, critic.encoder)
    audio = torch.from_numpy(np.stack([data.audio[i] for i in range(4)]))
    noise = torch.zeros(4, generator.code_dim)
    with torch.no_grad():
        recon, *_ = view(audio, noise, pitch=(f0, voiced))
        features = generator.decoder.decode_features(view.encoder(audio)[0])
        silent = generator.decoder.finish(features, log2_f0=teacher, voiced=torch.zeros_like(voiced))
        head_only = generator.decoder.out(*generator.decoder.head_spectra(features))
    torch.testing.assert_close(silent, head_only, atol=1e-5, rtol=0)  # gate 0: the STFT head alone
    assert (recon[0] - head_only[0]).abs().max() > 1e-4  # clip 0 voiced: the partials play
    torch.testing.assert_close(recon[1], head_only[1], atol=1e-5, rtol=0)  # clip 1 has no pitch
