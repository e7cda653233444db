"""What a composer watches while a run trains: sheets, sounds and an animation.

Every ``preview_every`` steps the EMA generator renders the same latents for every
category: a spectrogram sheet (PNG), the WAVs, the same in TensorBoard, and the sheets so
far as an animated GIF (``previews/progress.gif``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from gesturegan.files import atomic_path
from gesturegan.training.models import Generator
from gesturegan.training.sheets import spectrogram_sheet

GIF_FRAMES = 120  # most frames kept in the animation (evenly spaced over the run)


def fixed_latents(generator: Generator, n_categories: int, per_category: int, seed: int = 1234):
    """The same ``z [K*n, Z]`` and one-hot ``cond [K*n, K]`` at every preview."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(per_category, generator.latent_dim, generator=g).repeat(n_categories, 1)
    cond = torch.eye(n_categories).repeat_interleave(per_category, dim=0)
    return z, cond


@torch.no_grad()
def render(generator: Generator, z: torch.Tensor, cond: torch.Tensor, batch: int = 16) -> np.ndarray:
    """Audio ``[N, C, T]`` float32 for latents ``[N, Z]`` and weights ``[N, K]``."""
    dev = next(generator.parameters()).device
    out = [
        generator(z[i : i + batch].to(dev), cond[i : i + batch].to(dev)).float().cpu()
        for i in range(0, len(z), batch)
    ]
    return torch.cat(out).numpy()


def write_preview(
    run: Path,
    step: int,
    generator: Generator,
    categories: list[str],
    sample_rate: int,
    per_category: int,
    writer=None,
) -> Path:
    """Render, write ``previews/step-N.png`` and WAVs, log to TensorBoard, refresh the GIF."""
    z, cond = fixed_latents(generator, len(categories), per_category)
    audio = render(generator, z, cond)
    folder = run / "previews"
    wav_dir = folder / f"step-{step:07d}"
    wav_dir.mkdir(parents=True, exist_ok=True)
    rows = {}
    for k, name in enumerate(categories):
        clips = audio[k * per_category : (k + 1) * per_category]
        rows[name] = list(clips)
        for i, clip in enumerate(clips):
            with atomic_path(wav_dir / f"{name}-{i}.wav") as tmp:
                sf.write(tmp, np.clip(clip.T, -1, 1), sample_rate, subtype="PCM_16", format="WAV")
        if writer is not None:
            writer.add_audio(
                f"preview/{name}",
                torch.from_numpy(np.clip(clips[0].mean(0), -1, 1))[None],
                step,
                sample_rate=sample_rate,
            )
    sheet = spectrogram_sheet(
        rows, sample_rate, folder / f"step-{step:07d}.png", title=f"step {step}", columns=per_category
    )
    if writer is not None:
        import matplotlib.image

        writer.add_image("preview/sheet", matplotlib.image.imread(sheet)[..., :3], step, dataformats="HWC")
    write_gif(folder)
    return sheet


def write_gif(folder: Path, frame_ms: int = 400) -> Path | None:
    """``progress.gif`` from the sheets in ``folder`` (at most ``GIF_FRAMES``, evenly spaced)."""
    from PIL import Image

    sheets = sorted(folder.glob("step-*.png"))
    if not sheets:
        return None
    if len(sheets) > GIF_FRAMES:
        keep = np.linspace(0, len(sheets) - 1, GIF_FRAMES).round().astype(int)
        sheets = [sheets[i] for i in sorted(set(keep))]
    frames = [Image.open(p).convert("RGB") for p in sheets]
    size = frames[0].size
    frames = [f if f.size == size else f.resize(size) for f in frames]
    target = folder / "progress.gif"
    with atomic_path(target) as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return target
