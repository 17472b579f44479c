"""Weight-based pruning of MLP 784-128-10 at 50 / 80 / 90 / 95% sparsity.

Reproduces: the write-ups' weight-based strategy on their running example
(MLP 784-128-10, dense about 2% error; ../shared/ANCHORS.md, Plain
baselines): magnitude scores, per-layer (uniform) sparsity on every kernel,
biases dense, gradual cubic schedule (Zhu & Gupta 2017) from epoch 1 to
epoch 6, masks updated every half epoch, then 4 epochs of fine-tuning
(10 epochs in all, momentum SGD, cosine learning rate).

  python experiments/main.py \
      --config=experiments/configs/prune_mlp128_magnitude.py:0.9 \
      --workdir=workdirs/prune_mlp128_magnitude_90_s0 [--config.seed=1]

All levels and seeds, with the table: python benchmarks/pruning_experiments.py
--group=mlp128. Runtime and result: docs/results_pruning.md.

Measured (median of 3 seeds, ~1.5 min/run): 50% 1.97%, 80% 2.20%, 90% 2.59%,
95% 4.01% error.
"""

from configs import default, prune_common


def get_config(sparsity: str = '0.9'):
  c = default.get_config()
  c.model = 'mlp_128'
  c.num_epochs = 10.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.pruning = prune_common.section(
      score='magnitude', sparsity=float(sparsity), distribution='uniform',
      schedule='polynomial', units='epochs', begin=1.0, end=6.0, every=0.5,
      power=3.0)
  return c
