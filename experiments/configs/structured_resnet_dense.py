"""Baseline for structured_resnet_slimming: the dense ResNetSmall (16, 32),
trained for the 3 epochs the slimming run trains in all (2 + 1 fine-tune),
without the L1 penalty.

  python experiments/main.py --config=experiments/configs/structured_resnet_dense.py \
      --workdir=workdirs/structured_resnet_dense

Runtime: 10 minutes on the 2-core CPU.
Result (seed 0, measured): 1.89% test error; docs/results_structured.md.
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'resnet_small'
  c.num_epochs = 3.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  return c
