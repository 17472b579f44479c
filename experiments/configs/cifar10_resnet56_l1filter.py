"""L1-norm filter pruning of ResNet-56 on CIFAR-10: Li et al. 2017,
"Pruning Filters for Efficient ConvNets", ResNet-56-pruned-B.

NOT RUN HERE: no CIFAR-10 and no accelerator on this machine. Ready for
where the data exists, after the baseline (cifar10_resnet56.py).

Method: one-shot, from the trained baseline, filters of the first conv of
each residual block ranked by the L1 norm of their weights, the lowest
removed: 60% / 30% / 10% in stages 1 / 2 / 3 (16 -> 6, 32 -> 22, 64 -> 57
filters: int(n (1 - p)) as in Li et al.), skipping the sensitive layers 16,
18, 20, 34, 38 and 54 (the first convs of stage1_block8, stage1_block9,
stage2_block1, stage2_block8, stage3_block1, stage3_block9). The second convs
are coupled through the identity shortcuts (structured.trace_groups finds
these groups and blocks them: option A pads them with zeros), as in Li et al.,
who prune only the first layer of each block. The masked network is then
fine-tuned for 40 epochs (lr 0.01, divided by 10 at 50% and 75%); the
report shrinks it (structured.shrink) and measures the smaller model.

  python experiments/main.py --config=experiments/configs/cifar10_resnet56.py \
      --workdir=workdirs/cifar10_resnet56
  python experiments/main.py \
      --config=experiments/configs/cifar10_resnet56_l1filter.py \
      --workdir=workdirs/cifar10_resnet56_l1filter

Expected (Li et al. 2017, Table 1): 93.04% -> 93.06% test accuracy, FLOPs
1.25e8 -> 9.09e7 (-27.6%), parameters 8.5e5 -> 7.3e5. The pruned
architecture this config produces has exactly those FLOPs (multiply-
accumulates 125,485,696 -> 90,907,264, -27.6%; parameters 853,018 ->
735,712; asserted in tests/zoo_prune_test.py); the accuracy is not
measured here.

Cost (estimated, not measured): 40 epochs of the (masked, dense-cost)
ResNet-56, a quarter of the baseline's 164: about 15 minutes on one
current GPU.
"""

from configs import cifar10_resnet56

from jaxcompress.plugins import default_section

SKIP = ('stage1_block8', 'stage1_block9', 'stage2_block1', 'stage2_block8',
        'stage3_block1', 'stage3_block9')


def get_config():
  c = cifar10_resnet56.get_config()
  c.init_from = 'workdirs/cifar10_resnet56'
  c.num_epochs = 40.0
  c.learning_rate = 0.01
  c.eval_every_steps = 390 * 5
  s = default_section('structured')
  s.score = 'l1'
  s.sparsity = 0.0            # groups no rule names keep every filter
  s.distribution = 'uniform'
  s.schedule = 'one_shot'
  s.step = 0.0
  s.rules = tuple((f'^{b}/conv1$', None) for b in SKIP) + (
      (r'^stage1_block\d/conv1$', 10 / 16),
      (r'^stage2_block\d/conv1$', 10 / 32),
      (r'^stage3_block\d/conv1$', 7 / 64))
  c.structured = s
  return c
