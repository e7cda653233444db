"""Model families. Every generator maps ``z [B, latent_dim]`` and ``cond [B, K]`` to
``audio [B, C, T]``; ``build`` returns the generator and its critic (discriminator, or the
VAE's encoder) for one config and dataset.
"""

from __future__ import annotations

from torch import nn

from gesturegan.training.config import Config
from gesturegan.training.models.base import DataShape, Generator


def build(cfg: Config, shape: DataShape) -> tuple[Generator, nn.Module]:
    """Generator and critic of ``cfg.family`` for data of ``shape``."""
    if cfg.family == "gan":
        from gesturegan.training.models.gan import SpectralDiscriminator, SpectralGenerator

        return SpectralGenerator(cfg.model, shape, "gan"), SpectralDiscriminator(cfg.model, shape)
    if cfg.family == "vae":
        from gesturegan.training.models.gan import SpectralGenerator
        from gesturegan.training.models.vae import Encoder

        return SpectralGenerator(cfg.model, shape, "vae"), Encoder(cfg.model, shape)
    if cfg.family == "specgan":
        from gesturegan.training.models.specgan import SpecGANCritic, SpecGANGenerator

        return SpecGANGenerator(cfg.model, shape), SpecGANCritic(cfg.model, shape)
    if cfg.family == "wavegan":
        from gesturegan.training.models.wavegan import WaveGANCritic, WaveGANGenerator

        return WaveGANGenerator(cfg.model, shape), WaveGANCritic(cfg.model, shape)
    if cfg.family == "twostage":
        from gesturegan.training.models.twostage import TwoStageCritic, TwoStageGenerator

        return TwoStageGenerator(cfg.model, shape), TwoStageCritic(cfg.model, shape)
    raise ValueError(f"unknown family {cfg.family!r}")


__all__ = ["DataShape", "Generator", "build"]
