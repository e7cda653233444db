"""One optimisation step per family: ``step(state, sampler) -> {name: value}`` for logging.

Each function draws its own real batches from the sampler (the WGAN baselines take
``n_critic`` of them per generator update) and all randomness from ``state.rng``, so a
resumed run repeats the exact sequence.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from gesturegan.training.data import BatchSampler
from gesturegan.training.losses import (
    MultiResolutionSTFTLoss,
    diff_augment,
    gradient_penalty,
    mode_seeking,
    r1_penalty,
)
from gesturegan.training.models.gan import LogMagnitude
from gesturegan.training.models.harmonic import pitch_loss
from gesturegan.training.state import State

StepFn = Callable[[State, BatchSampler], dict[str, float]]


def _autocast(state: State):
    bf16 = state.config.train.precision == "bf16"
    return torch.autocast(device_type=state.device.type, dtype=torch.bfloat16, enabled=bf16)


def _grad_norm(params) -> float:
    norms = [p.grad.detach().norm() for p in params if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def _latents(state: State, sampler: BatchSampler) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``z [B, Z]``, category indices ``[B]`` and one-hot ``cond [B, K]`` for the generator."""
    b, k = sampler.batch_size, state.shape.n_categories
    z = torch.randn(b, state.generator.latent_dim, generator=state.rng)
    labels = torch.multinomial(sampler.category_weights(), b, True, generator=state.rng)
    dev = state.device
    return z.to(dev), labels.to(dev), F.one_hot(labels, k).float().to(dev)


def _real(state: State, sampler: BatchSampler) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    audio, labels = sampler.sample()
    dev = state.device
    return audio.to(dev), labels.to(dev), F.one_hot(labels, state.shape.n_categories).float().to(dev)


def _generator_update(state: State, loss_g: torch.Tensor, logs: dict[str, float]) -> dict[str, float]:
    """One optimiser step of the generator on ``loss_g``; logs its loss and gradient norm."""
    state.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    logs["grad_norm/g"] = _grad_norm(state.generator.parameters())
    state.opt_g.step()
    logs["loss/g"] = float(loss_g.detach())
    return logs


_LOGMAG: dict[torch.device, LogMagnitude] = {}


def _adapt_augmentation(state: State, d_real: torch.Tensor, logs: dict[str, float]) -> None:
    """ADA (Karras et al. 2020): move the augmentation probability by one ``1/ada_steps`` step.

    Up while the discriminator is surer of real clips than ``ada_target`` (the mean sign of its
    real scores, the overfitting heuristic r_t), down while less. Under DDP the sign is averaged
    over every process so that all of them keep the same probability.
    """
    t = state.config.train
    overfit = torch.sign(d_real.detach()).mean()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.all_reduce(overfit)
        overfit = overfit / torch.distributed.get_world_size()
    direction = float(torch.sign(overfit - t.ada_target))
    state.augment_p = min(1.0, max(0.0, state.augment_p + direction / t.ada_steps))
    logs["augment/p"] = state.augment_p
    logs["augment/r_t"] = float(overfit)


def _paired_latents(state: State, sampler: BatchSampler) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like ``_latents``, but clip ``P + i`` has the category of clip ``i`` (``P`` = half the batch)."""
    z, labels, _ = _latents(state, sampler)
    half = labels.shape[0] // 2
    labels = torch.cat([labels[:half], labels[:half], labels[2 * half :]])
    return z, labels, F.one_hot(labels, state.shape.n_categories).float()


def gan_step(state: State, sampler: BatchSampler) -> dict[str, float]:
    """Hinge loss, projection discriminator, DiffAugment, lazy R1, on one real batch.

    Against collapse on small data, each optional: adaptive augmentation strength
    (``ada_target``), a mode-seeking term on the generator (``diversity_weight``) and the
    discriminator's minibatch standard deviation (``model.minibatch_std``).
    """
    t, g, d = state.config.train, state.g_train, state.d_train
    ada = t.ada_target > 0
    p = state.augment_p if ada else 1.0

    def augment(audio: torch.Tensor) -> torch.Tensor:
        return diff_augment(audio, state.rng, p) if t.diffaug else audio

    real, _, cond_real = _real(state, sampler)
    z, _, cond = _latents(state, sampler)
    with torch.no_grad(), _autocast(state):
        fake = g(z, cond).float()
    do_r1 = t.r1_gamma > 0 and state.step % t.r1_every == 0
    real_in, fake_in = augment(real), augment(fake)
    with _autocast(state):
        if do_r1:
            d_real, specs = d(real_in, cond_real, r1=True)
        else:
            d_real = d(real_in, cond_real)
        d_real = d_real.float()
        d_fake = d(fake_in, cond).float()
    loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    logs = {
        "loss/d": float(loss_d.detach()),
        "d/real": float(d_real.detach().mean()),
        "d/fake": float(d_fake.detach().mean()),
    }
    if do_r1:
        r1 = r1_penalty(d_real, specs)
        loss_d = loss_d + 0.5 * t.r1_gamma * t.r1_every * r1
        logs["loss/r1"] = float(r1.detach())
    state.opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    logs["grad_norm/d"] = _grad_norm(state.critic.parameters())
    state.opt_d.step()
    if ada:
        _adapt_augmentation(state, d_real, logs)
        p = state.augment_p

    seeking = t.diversity_weight > 0
    z, _, cond = _paired_latents(state, sampler) if seeking else _latents(state, sampler)
    with _autocast(state):
        fake = g(z, cond).float()
        loss_g = -d(augment(fake), cond).float().mean()
    if seeking:  # distances between log-magnitudes: what a listener hears, not the waveform's phase
        logmag = _LOGMAG.setdefault(state.device, LogMagnitude(1024).to(state.device))
        loss_ms, ratio = mode_seeking(logmag(fake), z, t.diversity_cap)
        loss_g = loss_g + t.diversity_weight * loss_ms
        logs["loss/mode_seeking"] = float(loss_ms.detach())
        logs["diversity"] = float(ratio.detach())
    return _generator_update(state, loss_g, logs)


_MRSTFT: dict[tuple[torch.device, tuple[int, ...]], MultiResolutionSTFTLoss] = {}


def _recon_loss(device: torch.device, sizes: tuple[int, ...]) -> MultiResolutionSTFTLoss:
    """One loss module per device and set of sizes (its DFT bases are built once)."""
    key = (device, tuple(sizes))
    if key not in _MRSTFT:
        _MRSTFT[key] = MultiResolutionSTFTLoss(key[1]).to(device)
    return _MRSTFT[key]


def vae_step(state: State, sampler: BatchSampler) -> dict[str, float]:
    """Multi-resolution STFT reconstruction plus a KL term that ramps up over ``kl_warmup``."""
    t = state.config.train
    real, _, cond = _real(state, sampler)
    loss_fn = _recon_loss(state.device, (512, 1024, 2048))
    with _autocast(state):
        mu, logvar = state.d_train(real, cond)
        eps = torch.randn(mu.shape, generator=state.rng).to(mu.device)
        z = mu.float() + eps * torch.exp(0.5 * logvar.float())
        recon = state.g_train(z, cond).float()
    rec = loss_fn(recon, real)
    kl = 0.5 * (mu.float() ** 2 + logvar.float().exp() - 1 - logvar.float()).sum(1).mean()
    beta = t.kl_weight * min(1.0, (state.step + 1) / max(t.kl_warmup, 1))
    loss = rec + beta * kl
    state.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    grad = _grad_norm([*state.generator.parameters(), *state.critic.parameters()])
    state.opt_g.step()
    return {
        "loss/total": float(loss.detach()),
        "loss/recon": float(rec.detach()),
        "loss/kl": float(kl.detach()),
        "kl_beta": beta,
        "grad_norm/vae": grad,
    }


def _scored_features(
    disc, audio: torch.Tensor, cond: torch.Tensor
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A ``SpectralDiscriminator``'s score ``[B]`` and every hidden activation, for feature matching."""
    score, feats = 0, []
    for d in disc.discs:
        pooled, hidden = d.trunk(d.logmag(audio))
        feats += hidden
        score = score + d.head(pooled, cond)
    return score, feats


def twostage_step(state: State, sampler: BatchSampler) -> dict[str, float]:
    """Stage one of the two-stage model: reconstruct a real batch through the code.

    Multi-resolution STFT loss plus a KL term that ramps up over ``kl_warmup``; from step
    ``adversarial_from`` on (RAVE's second phase), a hinge discriminator on real vs
    reconstructed clips and L1 feature matching on its activations sharpen the decoder. With
    ``mix_weight``, the decoder also plays each clip's code moved part of the way to another
    clip's (ACAI's idea): the discriminator learns to reject those mixes and the decoder to make
    them sound real, which is what a morph between categories plays.
    """
    t = state.config.train
    audio, labels, index = sampler.sample_indexed()
    real = audio.to(state.device)
    cond = F.one_hot(labels, state.shape.n_categories).float().to(state.device)
    loss_fn = _recon_loss(state.device, t.recon_sizes)
    noise = torch.randn((real.shape[0], state.generator.code_dim), generator=state.rng).to(real.device)
    adversarial = bool(t.adversarial_from) and state.step >= t.adversarial_from
    frozen = adversarial and t.freeze_encoder
    mixing = adversarial and t.mix_weight > 0
    mix = torch.rand(real.shape[0], generator=state.rng).to(real.device) if mixing else None
    pitch = sampler.data.pitch
    targets = None
    if pitch is not None and t.pitch_weight > 0:
        targets = (
            torch.from_numpy(pitch.f0_hz[index]).to(real.device),
            torch.from_numpy(pitch.voiced[index]).to(real.device),
        )
    with _autocast(state):  # frozen: the decoder alone learns, so the prior's codes stay put
        recon, mu, logvar, mixed, log2_f0 = state.g_train(real, noise, frozen, mix, targets)
    recon, mu, logvar = recon.float(), mu.float(), logvar.float()
    rec = loss_fn(recon, real)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(1).mean()
    beta = t.kl_weight * min(1.0, (state.step + 1) / max(t.kl_warmup, 1))
    loss = rec + (0.0 if frozen else beta) * kl
    logs = {"loss/recon": float(rec.detach()), "loss/kl": float(kl.detach()), "kl_beta": beta}
    if log2_f0 is not None and targets is not None:
        octaves = pitch_loss(log2_f0, *targets)
        loss = loss + t.pitch_weight * octaves
        logs["loss/pitch_octaves"] = float(octaves.detach())
    if adversarial:
        d = state.d_train
        if mixing:  # a mix's category is the same mix of its two clips' categories
            mixed_cond = torch.lerp(cond, cond.roll(1, dims=0), mix.unsqueeze(1))
            fakes, fake_cond = torch.cat([recon.detach(), mixed.detach()]), torch.cat([cond, mixed_cond])
        else:
            fakes, fake_cond = recon.detach(), cond
        with _autocast(state):
            d_real = d(real, cond).float()
            d_fake = d(fakes, fake_cond).float()
        loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
        state.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        state.opt_d.step()
        disc = state.critic.discriminator
        with _autocast(state):
            s_fake, f_fake = _scored_features(disc, recon, cond)
            with torch.no_grad():
                _, f_real = _scored_features(disc, real, cond)
        adv = -s_fake.float().mean()
        fm = sum(
            (a.float() - b.float()).abs().mean() / b.float().abs().mean().clamp_min(1e-6)
            for a, b in zip(f_fake, f_real, strict=True)
        ) / len(f_real)
        loss = loss + t.adv_weight * adv + t.fm_weight * fm
        logs.update(
            {"loss/d": float(loss_d.detach()), "loss/adv": float(adv.detach()), "loss/fm": float(fm.detach())}
        )
        if mixing:  # no target to match: the discriminator alone says whether a mix sounds real
            with _autocast(state):
                s_mixed, _ = _scored_features(disc, mixed, mixed_cond)
            adv_mix = -s_mixed.float().mean()
            loss = loss + t.mix_weight * adv_mix
            logs["loss/adv_mix"] = float(adv_mix.detach())
    state.opt_g.zero_grad(set_to_none=True)
    loss.backward()
    params = [*state.generator.parameters(), *state.critic.encoder.parameters()]
    if t.grad_clip > 0:  # the norm before clipping is what gets logged
        logs["grad_norm/g"] = float(torch.nn.utils.clip_grad_norm_(params, t.grad_clip))
    else:
        logs["grad_norm/g"] = _grad_norm(params)
    state.opt_g.step()
    logs["loss/total"] = float(loss.detach())
    return logs


def _wgan_step(state: State, sampler: BatchSampler, to_input, fake_input) -> dict[str, float]:
    """WGAN-GP with an auxiliary classifier (AC-GAN): ``n_critic`` critic updates, one generator update."""
    t, d = state.config.train, state.d_train
    for _ in range(t.n_critic):
        real, labels, _ = _real(state, sampler)
        real_in = to_input(real)
        z, fake_labels, cond = _latents(state, sampler)
        with torch.no_grad(), _autocast(state):
            fake_in = fake_input(z, cond).float()
        with _autocast(state):
            s_real, c_real = d(real_in)
            s_fake, _ = d(fake_in)
        gp = gradient_penalty(d, real_in, fake_in, state.rng)
        wdist = s_real.float().mean() - s_fake.float().mean()
        aux = F.cross_entropy(c_real.float(), labels)
        loss_d = -wdist + t.gp_weight * gp + t.aux_weight * aux
        state.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        state.opt_d.step()
    logs = {
        "loss/d": float(loss_d.detach()),
        "wasserstein": float(wdist.detach()),
        "loss/gp": float(gp.detach()),
        "loss/aux_real": float(aux.detach()),
        "grad_norm/d": _grad_norm(state.critic.parameters()),
    }
    z, fake_labels, cond = _latents(state, sampler)
    with _autocast(state):
        s_fake, c_fake = d(fake_input(z, cond))
    loss_g = -s_fake.float().mean() + t.aux_weight * F.cross_entropy(c_fake.float(), fake_labels)
    return _generator_update(state, loss_g, logs)


def specgan_step(state: State, sampler: BatchSampler) -> dict[str, float]:
    gen = state.generator

    def to_input(audio: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            re, im = gen.stft(audio)
            return gen.normalise(torch.log(torch.sqrt(re**2 + im**2).clamp_min(1e-7)))

    # The loop sets g_train to a view whose forward is ``spectra`` (DDP-wrapped if distributed).
    return _wgan_step(state, sampler, to_input, state.g_train)


def wavegan_step(state: State, sampler: BatchSampler) -> dict[str, float]:
    state.critic.generator = state.rng
    return _wgan_step(state, sampler, lambda audio: audio, state.g_train)


STEPS: dict[str, StepFn] = {
    "gan": gan_step,
    "vae": vae_step,
    "specgan": specgan_step,
    "wavegan": wavegan_step,
    "twostage": twostage_step,
}
