"""Adaptive compression of LeNet-300-100 to 10x fewer FLOPs.

With a FLOPs budget the plan is structured: a kept width per channel group
(input pixels, fc1, fc2), chosen by exhaustive search over the widths with
the FLOPs model of the shrunk network (`jaxcompress.auto.flops`), against
the validation-loss increase of each width measured alone. Compare with
../shared/ANCHORS.md "Structured pruning": L0 regularization,
LeNet-300-100 266-88-33 at 1.6% (Louizos et al. 2018; our hand-set
structured_lenet_300_100.py reaches 1.77% at 9.99x fewer FLOPs).

Procedure: from the baseline (auto_baseline.py), structured L2-norm
pruning to the planned widths (cubic schedule over half of 20 epochs),
distilled from the baseline; the model is then physically shrunk and
trained alone for 2 epochs.

  python experiments/main.py \
      --config=experiments/configs/auto_lenet300_flops_10x.py \
      --workdir=workdirs/auto_lenet300_flops_10x

Runtime and result: README.md.
"""

from configs import auto_common


def get_config():
  return auto_common.config('lenet_300_100', 'flops', 10, inputs=True)
