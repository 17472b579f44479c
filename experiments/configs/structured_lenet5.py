"""LeNet-5 shrunk toward 9-18-(65)-25: prune, shrink, fine-tune the small net.

Reproduces: ANCHORS.md "Structured pruning", L0 regularization on LeNet-5
20-50-800-500 (Louizos et al. 2018, Table 1): 9-18-65-25 at 1.0% error. Their
65 counts the flattened conv2 features fc1 reads (of 800); we remove whole
channels, so fc1 reads 18 x 16 = 288 features. Target: conv1 9 filters,
conv2 18 filters, fc1 25 units, <= 1.0% error.

Procedure (`jaxcompress.structured.experiment:prune_shrink_finetune`):
stage 1 trains the dense LeNet-5 for half an epoch (234 steps) while the
cubic schedule removes filters/units by the L2 norm of their weights from
step 26 to step 182 (every 26 steps); the masked model is physically shrunk
to LeNet5(features=(9, 18, 25)); stage 2 fine-tunes that small model alone
for 2 epochs (lr 0.02, cosine), at about a third of the dense cost per step.
Far shorter than the paper's training because the 2-core CPU was shared by
four agents (this process got ~15% of one core); one seed.

  python experiments/main.py --config=experiments/configs/structured_lenet5.py \
      --workdir=workdirs/structured_lenet5

Runtime: about 20 minutes on the loaded 2-core CPU.
Result (seed 0, measured): LeNet5(features=(9, 18, 25)), 1.39% test error
(3.50% right after stage 1), 11,787 params, 5.79x fewer FLOPs: the <= 1.0%
target was NOT reached with this budget.
"""

from configs import default

from jaxcompress.structured import default_section


def get_config():
  c = default.get_config()
  c.entry = 'jaxcompress.structured.experiment:prune_shrink_finetune'
  c.model = 'lenet5'
  c.num_train_steps = 234
  c.steps_per_call = 117
  c.batch_size = 128
  c.learning_rate = 0.05
  c.weight_decay = 5e-4
  c.schedule = 'cosine'
  c.structured = default_section()
  c.structured.score = 'l2'
  c.structured.rules = (('^conv1$', 11 / 20), ('^conv2$', 32 / 50),
                        ('^fc1$', 475 / 500))
  c.structured.schedule = 'polynomial'
  c.structured.units = 'steps'
  c.structured.begin = 26
  c.structured.end = 182
  c.structured.every = 26
  c.structured.finetune_epochs = 2.0
  c.structured.finetune_learning_rate = 0.02
  return c
