"""Gradual magnitude pruning (Zhu & Gupta 2017) of LeNet-300-100 to 95 / 98%.

Reproduces: the cubic schedule of ../shared/ANCHORS.md ("gradual magnitude
(cubic schedule)", Zhu & Gupta 2017, s_t = s_f + (s_i - s_f)(1 - (t - t0) /
(n dt))^3) applied to LeNet-300-100 at 95% and 98% of the weights removed;
the MNIST rows to stand beside are SNIP's (Lee et al. 2019: 1.6% at 95%,
2.4% at 98%). Every kernel at the same sparsity, biases dense, masks updated
every quarter epoch from epoch 2 to epoch 12, 8 more epochs of training.

  python experiments/main.py \
      --config=experiments/configs/prune_lenet300_gradual.py:0.95 \
      --workdir=workdirs/prune_lenet300_gradual_95_s0

Seeds and table: python benchmarks/pruning_experiments.py --group=gradual300.
Runtime and result: docs/results_pruning.md.

Measured (median of 3 seeds, ~1-2 min/run): 95% 1.86%, 98% 2.33% error.
"""

from configs import default, prune_common


def get_config(sparsity: str = '0.95'):
  c = default.get_config()
  c.model = 'lenet_300_100'
  c.num_epochs = 20.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.pruning = prune_common.section(
      score='magnitude', sparsity=float(sparsity), distribution='uniform',
      schedule='polynomial', units='epochs', begin=2.0, end=12.0, every=0.25,
      power=3.0)
  return c
