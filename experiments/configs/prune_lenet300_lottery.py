"""Lottery ticket (Frankle & Carbin 2019) on LeNet-300-100.

Reproduces: ../shared/ANCHORS.md, "lottery ticket (IMP, rewind to init),
LeNet-300-100: better than dense down to 3.6% of weights, 20% pruned per
round". To reach a few percent in a few rounds on a CPU we prune 50% of each
hidden layer's survivors per round (25% of the output layer's: Frankle's
half rate), 5 rounds after the dense one (remaining 50, 25, 12.5, 6.3, 3.1%
of fc1/fc2), rewinding survivors to their initial values; every round
also trains the same mask from a fresh random initialization (the paper's
control). 5 epochs per round, momentum SGD, cosine learning rate.

  python experiments/main.py \
      --config=experiments/configs/prune_lenet300_lottery.py \
      --workdir=workdirs/prune_lenet300_lottery_s0

Table: python benchmarks/pruning_experiments.py --group=lottery.
Runtime and result: docs/results_pruning.md.

Measured (median of 3 seeds, 6-11 min each): rewound tickets
1.70/1.76/1.83/1.84/1.93% at 50/25/12.6/6.35/3.2% remaining vs dense 1.74%;
random re-init 1.86/2.34/2.43/2.90/3.37%.
"""

import ml_collections
from configs import default, prune_common


def get_config():
  c = default.get_config()
  c.pipeline = 'lottery'
  c.model = 'lenet_300_100'
  c.num_epochs = 5.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.pruning = prune_common.section()
  c.lottery = ml_collections.ConfigDict(dict(
      rounds=5, prune_rate=0.5, output_prune_rate=0.25, output_layer='fc3',
      rewind_step=0, reinit_control=True))
  return c
