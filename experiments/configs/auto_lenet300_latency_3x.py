"""Adaptive compression of LeNet-300-100 to a LiteRT file 3x faster.

With a latency budget the plan is structured, as with a FLOPs budget: a
kept width for fc1 and fc2, chosen by exhaustive search over the widths
against the validation-loss increase of each width measured alone. The
cost is not the FLOPs but the milliseconds of one batch-1 call of the
exported float .tflite file in the LiteRT interpreter on one thread, as an
app makes it (README, Deploy): a latency model (an intercept plus one slope
per layer times its FLOPs, `jaxcompress.auto.latency`) is fitted to 12
files of sampled widths, and the plan it picks is exported and measured
before it trains; a plan measured over the budget is replaced by the next
(the model refitted with that measurement). The budget is the dense file's
ms / 3, both timed in the same run; after training, the shrunk model's own
file is timed beside the dense one and judged against it.

Procedure: as auto_lenet300_flops_10x.py (structured L2-norm pruning to
the planned widths over half of 20 epochs, distilled from the baseline,
then the shrunk model alone for 2 epochs), without dropping input pixels
(a shrunk MLP that reads fewer pixels gathers them, and LiteRT runs the
gather outside XNNPACK).

  python experiments/main.py \\
      --config=experiments/configs/auto_lenet300_latency_3x.py \\
      --workdir=workdirs/auto_lenet300_latency_3x

Three seeds: python benchmarks/auto_targets.py
--rows=auto_lenet300_latency_3x. Runtime and result: README.md.
"""

from configs import auto_common


def get_config():
  return auto_common.config('lenet_300_100', 'latency', 3)
