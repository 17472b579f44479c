"""SNIP (Lee et al. 2019) on LeNet-300-100 at 95 / 98% sparsity.

Reproduces: ../shared/ANCHORS.md, "SNIP (prune at init), LeNet-300-100:
1.6% / 2.4% error with 5% / 2% of the weights", Lee et al. 2019 Table 1.
Connection sensitivity |g * w| on one batch of 100 training images at the
initialization, one global threshold over all kernels (biases dense), masks
fixed from the first step, then ordinary training of the survivors
(momentum SGD, 20 epochs, cosine learning rate).

  python experiments/main.py \
      --config=experiments/configs/prune_lenet300_snip.py:0.95 \
      --workdir=workdirs/prune_lenet300_snip_95_s0

Seeds and table: python benchmarks/pruning_experiments.py --group=snip.
Runtime and result: docs/results_pruning.md.

Measured (median of 3 seeds, ~1-2 min/run): 95% 2.34%, 98% 3.42% error
(published 1.6 / 2.4%: not reproduced in 20 epochs).
"""

from configs import default, prune_common


def get_config(sparsity: str = '0.95'):
  c = default.get_config()
  c.model = 'lenet_300_100'
  c.num_epochs = 20.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.pruning = prune_common.section(
      score='snip', saliency_batch_size=100, sparsity=float(sparsity),
      distribution='global', schedule='one_shot', step=0)
  return c
