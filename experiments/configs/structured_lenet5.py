"""LeNet-5 shrunk toward 9-18-(65)-25: prune, shrink, fine-tune the small net.

Reproduces: ANCHORS.md "Structured pruning", L0 regularization on LeNet-5
20-50-800-500 (Louizos et al. 2018, Table 1): 9-18-65-25 at 1.0% error. Their
65 counts the flattened conv2 features fc1 reads (of 800); we remove whole
channels, so fc1 reads 18 x 16 = 288 features. Target: conv1 9 filters,
conv2 18 filters, fc1 25 units, <= 1.0% error.

Procedure (`jaxcompress.structured.experiment:prune_shrink_finetune`):
stage 1 starts from the trained LeNet-5 baseline (workdirs/lenet5, the
lenet5 config) and fine-tunes it for 3 epochs (lr 0.01, cosine) while the
cubic schedule removes filters/units by the L2 norm of their weights over
the first two epochs (every 47 steps); the masked model is physically shrunk
to LeNet5(features=(9, 18, 25)); stage 2 fine-tunes that small model alone
for 10 epochs (lr 0.02, cosine). One seed. (A shorter run, 2 + 4 epochs with
pruning over one epoch, ended at 1.07%.)

  python experiments/main.py --config=experiments/configs/lenet5.py \
      --workdir=workdirs/lenet5
  python experiments/main.py --config=experiments/configs/structured_lenet5.py \
      --workdir=workdirs/structured_lenet5

Runtime: 6 minutes on the 2-core CPU after the baseline.
Result (seed 0, measured): LeNet5(features=(9, 18, 25)), 0.96% test error
(96 errors; 1.67% for the masked model after stage 1), 11,787 parameters,
5.79x fewer FLOPs; docs/results_structured.md
(python benchmarks/structured_results_table.py).
"""

from configs import lenet5

from jaxcompress.plugins import default_section


def get_config():
  c = lenet5.get_config()
  c.pipeline = 'prune_shrink_finetune'
  c.init_from = 'workdirs/lenet5'
  c.num_epochs = 3.0
  c.learning_rate = 0.01
  c.structured = default_section('structured')
  c.structured.score = 'l2'
  c.structured.rules = (('^conv1$', 11 / 20), ('^conv2$', 32 / 50),
                        ('^fc1$', 475 / 500))
  c.structured.schedule = 'polynomial'
  c.structured.units = 'steps'
  c.structured.begin = 0
  c.structured.end = 940
  c.structured.every = 47
  c.structured.finetune_epochs = 10.0
  c.structured.finetune_learning_rate = 0.02
  return c
