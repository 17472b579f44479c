"""Baseline for structured_resnet_slimming: the dense ResNetSmall (16, 32),
trained for the same 117 steps as slimming's stage 1, without the L1 penalty.

  python experiments/main.py --config=experiments/configs/structured_resnet_dense.py \
      --workdir=workdirs/structured_resnet_dense

Runtime: about 6 minutes on the shared 2-core CPU.
Result: not run in this session (no CPU time left on the shared machine);
the slimming row has no dense baseline of ours.
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'resnet_small'
  c.num_train_steps = 117
  c.steps_per_call = 39
  c.batch_size = 128
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  return c
