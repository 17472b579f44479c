"""Adaptive compression of MLP 784-128-10 into a file 32x smaller.

The write-ups' running example (../shared/ANCHORS.md, plain baselines: MLP
784-128-10 about 2%), compressed by the `auto` pipeline under a bytes
budget of 407,204 / 32 = 12,725 bytes (about the 12,146-byte file of the
comparison suite's hand-set combined row): per-kernel sparsity and bits by
the exact knapsack over the measured table, one fine-tuning run with
pruning + QAT + distillation, weight sharing and entropy coding.

  python experiments/main.py \
      --config=experiments/configs/auto_mlp128_bytes_32x.py \
      --workdir=workdirs/auto_mlp128_bytes_32x

Three seeds and the other budgets: python benchmarks/pareto.py
--models=mlp_128. Runtime and result: README.md.
"""

from configs import auto_common


def get_config():
  return auto_common.config('mlp_128', 'bytes', 32)
