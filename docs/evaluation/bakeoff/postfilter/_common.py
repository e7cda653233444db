"""What the postfilter diagnosis scripts share: a checkpoint's reconstructions of some categories'
training clips, and the envelope they were measured with (replicate-padded at the edges, as when
the figures in bakeoff.md were taken)."""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from gesturegan.training.data import Dataset, load_dataset
from gesturegan.training.models.twostage import SpectralDecoder, encode
from gesturegan.training.representation import STFT
from gesturegan.training.state import read_checkpoint, restore_state


@dataclass
class Clips:
    data: Dataset
    audio: np.ndarray  # [N, C, T], the chosen categories' training clips
    labels: np.ndarray  # [N]
    codes: np.ndarray  # [N, D], posterior means
    decoder: SpectralDecoder  # the EMA decoder, in eval mode
    stft: STFT  # the decoder's own
    step: int


def load(ckpt_path: str, data_path: str, categories: list[str] | None) -> Clips:
    torch.set_num_threads(1)
    data = load_dataset(data_path)
    idx = data.train_index
    if categories:
        idx = idx[np.isin(data.labels[idx], [data.categories.index(c) for c in categories])]
    audio = np.asarray(data.audio[idx], dtype=np.float32)
    ckpt = read_checkpoint(ckpt_path)
    state = restore_state(ckpt, torch.device("cpu"))
    codes, _ = encode(state.critic.encoder, audio, batch=16)
    decoder = state.ema.decoder.eval()
    return Clips(data, audio, data.labels[idx], codes, decoder, STFT(decoder.stft_cfg), int(ckpt["step"]))


def envelope(x: torch.Tensor, bins: int) -> torch.Tensor:
    """``x [B, C, F, N]`` averaged over ``bins`` neighbouring frequency bins, edges replicated."""
    b, c, f, n = x.shape
    rows = x.permute(0, 1, 3, 2).reshape(-1, 1, f)
    env = F.avg_pool1d(F.pad(rows, (bins // 2, bins // 2), mode="replicate"), bins, stride=1)
    return env.view(b, c, n, f).permute(0, 1, 3, 2)
