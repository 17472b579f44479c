"""auto_lenet300_bytes_64x on a better-trained LeNet-300-100.

The model compressed is a dense LeNet-300-100 trained with the
regularization Hinton et al. gave their MNIST teacher, dropout 0.2 and
random translations by up to 2 pixels, for 40 epochs
(lenet_300_100_augmented.py; the same 55,000 training images, the same
5,000 held out), instead of the 20-epoch baseline. Everything after the
trained model is auto_lenet300_bytes_64x's: sensitivities measured on the
5,000 held-out images, the exact knapsack within 1,066,625 / 64 bytes, one
fine-tuning run of pruning + QAT distilled from the model being compressed
(alpha 0.9), the file written and decoded. The fine-tuning keeps the
baseline's dropout (the pipeline requires the baseline's model settings)
but not its translations: on seed 0 that gave 1.98% validation error
against 2.26% with them (the test set was not used to choose; with them:
add --config.jitter_pixels=2 to the main.py command below, its
auto.baseline_workdir pointing at the seed's baseline run).

  python benchmarks/auto_targets.py --rows=auto_lenet300_augmented_bytes_64x

(trains the seed's baseline as row 'baseline_lenet_300_100_augmented'), or
one seed on a finished baseline run:

  python experiments/main.py \
      --config=experiments/configs/auto_lenet300_augmented_bytes_64x.py \
      --config.auto.baseline_workdir=workdirs/pareto/lenet_300_100/baseline_lenet_300_100_augmented/seed0 \
      --workdir=workdirs/auto_lenet300_augmented_bytes_64x

Target (issue 16): >= 64x smaller than the float32 model.msgpack at <= 1.6%
test error, median of 3 seeds. This dense model is at about 1.0% test
error; Deep Compression's started at 1.64% (../shared/ANCHORS.md). Runtime
and result: README.md.
"""

from configs import auto_common

BASELINE = 'lenet_300_100_augmented'  # a key of auto_common.BASELINES


def get_config():
  c = auto_common.config(BASELINE, 'bytes', 64, alpha=0.9)
  c.jitter_pixels = 0
  return c
