"""Han et al. 2015 iterative magnitude pruning of LeNet-300-100.

Reproduces: ../shared/ANCHORS.md, "magnitude prune + retrain (iterated),
LeNet-300-100: 1.64% -> 1.59% error with 8% of the weights (fc1 8%, fc2 9%,
fc3 26%)", Han et al. 2015 Tables 1-2. Target here: <= 1.7% error with >= 92%
of the weights removed.

Procedure: train dense 12 epochs (SGD momentum 0.9, lr 0.05, L2 5e-4), then
five prune-then-retrain cycles at lr / 10 (the 'step' learning-rate schedule
drops by 10x at the first pruning step), 3 epochs each and 8 after the last,
pruning each layer by magnitude to 50, 75, 88, 96, 100% of its final sparsity (fc1 93%,
fc2 91%, fc3 74% removed; the per-layer rates of Han's Table 2, fc1 one point
higher to reach 92% overall); survivors are kept (no re-initialization),
pruned weights never come back. Biases stay dense.

  python experiments/main.py --config=experiments/configs/prune_lenet300_han.py \
      --workdir=workdirs/prune_lenet300_han_s0

Three seeds and the table: python benchmarks/pruning_experiments.py
--group=han300. Runtime and result: docs/results_pruning.md.

Measured (3 seeds, loaded 2-core CPU, ~5 min/run): 1.65% median error (1.47,
1.65, 1.65%), 92.70% of kernel weights removed.
"""

from configs import default, prune_common

DENSE_EPOCHS = 12
CYCLE_EPOCHS = 3
CYCLES = 5
FINAL_EPOCHS = 8


def get_config():
  c = default.get_config()
  c.model = 'lenet_300_100'
  total = DENSE_EPOCHS + (CYCLES - 1) * CYCLE_EPOCHS + FINAL_EPOCHS
  c.num_epochs = float(total)
  c.optimizer = 'momentum'
  c.learning_rate = 0.05
  c.weight_decay = 5e-4
  c.schedule = 'step'                            # retrain at lr / 10
  c.step_boundaries = (DENSE_EPOCHS / total,)
  c.step_factor = 0.1
  c.pruning = prune_common.section(
      score='magnitude', distribution='uniform', sparsity=0.93,
      rules=(('fc2/kernel', 0.91), ('fc3/kernel', 0.74)),
      schedule='iterative', units='epochs',
      steps=tuple(DENSE_EPOCHS + i * CYCLE_EPOCHS for i in range(CYCLES)),
      fractions=(0.5, 0.75, 0.88, 0.96, 1.0))
  return c
