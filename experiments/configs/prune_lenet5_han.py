"""Han et al. 2015 iterative magnitude pruning of LeNet-5 (Caffe form).

Reproduces: ../shared/ANCHORS.md, "magnitude prune + retrain, LeNet-5: 0.80%
-> 0.77% error with 8% of the weights (conv1 66%, conv2 12%, fc1 8%, fc2
19%)", Han et al. 2015 Tables 1 and 3. Target: <= 0.9% error with >= 92% of
the weights removed.

Procedure: 8 dense epochs (momentum SGD, lr 0.05, L2 5e-4), then three
prune-then-retrain cycles of 3 epochs at lr / 10 to 50, 80, 100% of the
per-layer targets (conv1 34%, conv2 88%, fc1 92.5%, fc2 81% removed; Han's
Table 3 rates), magnitude scores, survivors kept, biases dense.

  python experiments/main.py --config=experiments/configs/prune_lenet5_han.py \
      --workdir=workdirs/prune_lenet5_han_s0

Table: python benchmarks/pruning_experiments.py --group=han5.
Runtime and result: docs/results_pruning.md.

Not measured: a LeNet-5 epoch did not finish in 4 minutes on the loaded CPU
before the deadline.
"""

from configs import default, prune_common

DENSE_EPOCHS = 8
CYCLE_EPOCHS = 3
CYCLES = 3


def get_config():
  c = default.get_config()
  c.model = 'lenet5'
  total = DENSE_EPOCHS + CYCLES * CYCLE_EPOCHS
  c.num_epochs = float(total)
  c.optimizer = 'momentum'
  c.learning_rate = 0.05
  c.weight_decay = 5e-4
  c.schedule = 'step'
  c.step_boundaries = (DENSE_EPOCHS / total,)
  c.step_factor = 0.1
  c.pruning = prune_common.section(
      score='magnitude', distribution='uniform', sparsity=0.925,
      rules=(('conv1/kernel', 0.34), ('conv2/kernel', 0.88),
             ('fc2/kernel', 0.81)),
      schedule='iterative', units='epochs',
      steps=tuple(DENSE_EPOCHS + i * CYCLE_EPOCHS for i in range(CYCLES)),
      fractions=(0.5, 0.8, 1.0))
  return c
