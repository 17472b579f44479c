"""Sparsity-constrained training of MLP 784-128-10 at 50 / 80 / 90 / 95%.

Reproduces: the write-ups' sparsity-based strategy, min L(w) s.t.
nnz(w_l) <= k_l for every kernel, solved by projected SGD with momentum
(iterative hard thresholding: keep the k largest magnitudes after every
update, weights may come back), from the first step; a small L1 penalty
(1e-6) as well; 10 epochs, momentum SGD, cosine learning rate. The report's `max_kept` shows the bound held at every step.

  python experiments/main.py \
      --config=experiments/configs/prune_mlp128_constrained.py:0.9 \
      --workdir=workdirs/prune_mlp128_constrained_90_s0

All levels and seeds: python benchmarks/pruning_experiments.py
--group=mlp128. Runtime and result: docs/results_pruning.md.

Measured (median of 3 seeds, ~2-3 min/run): 50% 2.14%, 80% 2.77%, 90% 4.19%,
95% 6.56% error; max_kept == k in every layer.
"""

from configs import default, prune_common


def get_config(sparsity: str = '0.9'):
  c = default.get_config()
  c.model = 'mlp_128'
  c.num_epochs = 10.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.pruning = prune_common.section(sparsity=float(sparsity), constrained=True,
                                   l1=1e-6)
  return c
