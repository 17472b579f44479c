"""The trained model the adaptive-compression configs compress.

LeNet-300-100 (lenet_300_100.py) or MLP 784-128-10 (mlp_128.py), trained on
the first 55,000 MNIST training images; the last 5,000 are held out as the
validation split `auto` measures sensitivities on (the test set is never
looked at before the final evaluation).

  python experiments/main.py --config=experiments/configs/auto_baseline.py:lenet_300_100 \
      --workdir=workdirs/auto_baseline_lenet_300_100

Runtime: that of the model's baseline config (about 40 s for LeNet-300-100,
11 s for MLP 784-128-10 on a quiet 2-core CPU). Result: README.md,
adaptive compression.
"""

from configs import auto_common


def get_config(model: str = 'lenet_300_100'):
  return auto_common.baseline(model)
