"""A checkpoint with one more discriminator resolution: the new one starts fresh, the others keep
their weights and Adam state (stop 28's disc4096 branch of fine-early; `--init-from` refuses a
config that changes a weight's shape, so the branch is written here and passed to it whole).

    python docs/evaluation/bakeoff/disc4096/add_disc.py runs/fine-early/checkpoints/step-0007054.pt branch.pt 4096
    gesturegan train data/both --init-from branch.pt --out runs/disc4096 --max-steps 8500 --threads 2
"""

import sys

import torch

from gesturegan.training.config import Config
from gesturegan.training.models import DataShape, build
from gesturegan.training.state import read_checkpoint

src, out, res = sys.argv[1], sys.argv[2], int(sys.argv[3])
ckpt = read_checkpoint(src)
cfg = ckpt["config"]
old = list(cfg["model"]["d_resolutions"])
cfg["model"]["d_resolutions"] = [*old, res]
_, critic = build(Config.from_dict(cfg), DataShape(**ckpt["shape"]))
fresh = critic.state_dict()
merged = dict(ckpt["critic"])
added = [k for k in fresh if k not in merged]
for k in added:
    merged[k] = fresh[k]
critic.load_state_dict(merged)  # strict: every old key fits
opt = ckpt["opt_d"]
n_params_old = len(opt["param_groups"][0]["params"])
n_params_new = len(list(critic.discriminator.parameters()))
opt["param_groups"][0]["params"] = list(range(n_params_new))
ckpt["critic"], ckpt["opt_d"], ckpt["config"] = merged, opt, cfg
torch.save(ckpt, out)
print(
    f"{src}: d_resolutions {old} -> {cfg['model']['d_resolutions']}; {len(added)} new critic tensors, "
    f"discriminator params {n_params_old} -> {n_params_new}"
)
