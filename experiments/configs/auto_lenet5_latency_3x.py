"""Adaptive compression of LeNet-5 to a LiteRT file 3x faster.

The latency budget of auto_lenet300_latency_3x.py on a convolutional
network: kept widths of conv1, conv2 and fc1, chosen by exhaustive search
over the widths (11 each) against each width's validation-loss increase,
with a latency model (an intercept plus one slope per layer times its
FLOPs) fitted to 12 measured float .tflite files, batch 1, one thread. A
convolution's time is not its FLOPs alone (LiteRT runs a convolution of
one output channel per input as a depthwise one, with other kernels and
costs), so the plan the model picks is exported and measured before it
trains, and replaced while it measures over the budget (less a 5% margin).
The budget is the dense file's ms / 3; after training the shrunk model's
own file is timed beside the dense one and judged against it.

Procedure: from the LeNet-5 auto baseline (auto_common.py: lenet5.py with
the validation split held out, gradient norm clipped at 2), structured
L2-norm pruning to the planned widths over half of 10 epochs, distilled
from the baseline, then the shrunk model alone for 2 epochs.

  python experiments/main.py \\
      --config=experiments/configs/auto_lenet5_latency_3x.py \\
      --workdir=workdirs/auto_lenet5_latency_3x

Three seeds: python benchmarks/auto_targets.py
--rows=auto_lenet5_latency_3x. Runtime and result: README.md.
"""

from configs import auto_common


def get_config():
  return auto_common.config('lenet5', 'latency', 3)
