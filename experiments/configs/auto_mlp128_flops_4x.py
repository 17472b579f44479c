"""Adaptive compression of MLP 784-128-10 to 4x fewer FLOPs.

A FLOPs budget gives a structured plan: how many input pixels and hidden
units to keep, by exhaustive search over the widths with the FLOPs model
of the shrunk network and the validation-loss increase of each width
measured alone; then structured pruning with distillation, physical
removal, and 2 epochs of the shrunk model alone.

  python experiments/main.py \
      --config=experiments/configs/auto_mlp128_flops_4x.py \
      --workdir=workdirs/auto_mlp128_flops_4x

Runtime and result: README.md.
"""

from configs import auto_common


def get_config():
  return auto_common.config('mlp_128', 'flops', 4, inputs=True)
