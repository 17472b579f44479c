"""Han et al. 2015 iterative magnitude pruning of LeNet-5 (Caffe form).

Reproduces: ../shared/ANCHORS.md, "magnitude prune + retrain, LeNet-5: 0.80%
-> 0.77% error with 8% of the weights (conv1 66%, conv2 12%, fc1 8%, fc2
19%)", Han et al. 2015 Tables 1 and 3. Target: <= 0.9% error with >= 92% of
the weights removed.

Procedure: start from the trained LeNet-5 baseline (workdirs/lenet5, the
lenet5 config: 10 epochs, momentum SGD, L2 5e-4), then four
prune-then-retrain cycles of one epoch at a tenth of its learning rate
(0.005, momentum, L2 5e-4) to 50, 75, 90 and 100% of the per-layer targets
(conv1 34%, conv2 88%, fc1 93%, fc2 81% removed: Han's Table 3 rates, fc1 half
a point higher to pass 92% overall), and two more epochs of retraining;
magnitude scores, survivors kept, biases dense.

  python experiments/main.py --config=experiments/configs/lenet5.py \
      --workdir=workdirs/lenet5
  python experiments/main.py --config=experiments/configs/prune_lenet5_han.py \
      --workdir=workdirs/prune_lenet5_han_s0

Runtime: about 4 minutes a seed after the baseline through the old per-step
tf.data path; seed 0 in the scanned epoch took 16.4 minutes on the 2-core CPU
shared with three other jobs (load average about 13).
Result (measured, seeds 0-2, tf.data path): 0.86% median (0.87, 0.86, 0.85%)
with 92.50% of the kernel weights removed; docs/results_pruning.md
(python benchmarks/pruning_experiments.py --group=han5 --seeds=0,1,2).
Rerun in the scanned epoch (other shuffling), seed 0 only: 0.94% (94 errors)
with 92.50% of the kernel weights removed, from a 0.68% baseline; seeds 1-2 not
rerun.
"""

from configs import lenet5, prune_common

CYCLES = 4
FINAL_EPOCHS = 2


def get_config():
  c = lenet5.get_config()
  c.init_from = 'workdirs/lenet5'
  c.num_epochs = float(CYCLES + FINAL_EPOCHS)
  c.learning_rate = 0.005
  c.schedule = 'constant'
  c.pruning = prune_common.section(
      score='magnitude', distribution='uniform', sparsity=0.93,
      rules=(('conv1/kernel', 0.34), ('conv2/kernel', 0.88),
             ('fc2/kernel', 0.81)),
      schedule='iterative', units='epochs',
      steps=tuple(range(CYCLES)), fractions=(0.5, 0.75, 0.9, 1.0))
  return c
