"""Network slimming of the residual net: L1 on batch-norm scales, global
threshold, shrink (residual channels kept together), fine-tune.

Reproduces (in method): ANCHORS.md "Structured pruning", network slimming
(Liu et al. 2017): MLP 784-500-300 1.43% -> 1.49% with -84.4% parameters;
the method on our conv net with batch norm and residual blocks.

Procedure (`prune_shrink_finetune`): stage 1 trains ResNetSmall (16, 32)
for 2 epochs (momentum, lr 0.05, cosine) with the loss plus 1e-3 * sum |gamma|
over every batch norm after a prunable conv; at its last step half of all
channels go under one global threshold on |gamma| (summed over the batch
norms a residual group shares), with the two groups each stage width sets
kept equal (`tie`); the model is shrunk to ResNetSmall(stage_features=(a, b))
and fine-tuned alone for 2 epochs (lr 0.02), in the scanned epoch. Dense baseline: structured_resnet_dense.py (3 epochs). One seed.

  python experiments/main.py --config=experiments/configs/structured_resnet_slimming.py \
      --workdir=workdirs/structured_resnet_slimming

Runtime: 9 minutes on the 2-core CPU.
Result (seed 0, measured): widths 8-8-16-16 (19,706 -> 5,122 params), 3.09%
test error against 1.89% for the dense net; with 1e-2 and one epoch of
fine-tuning (--config.structured.slimming_l1=1e-2
--config.structured.finetune_epochs=1) 9.78%; docs/results_structured.md.
"""

from configs import default

from jaxcompress.plugins import default_section


def get_config():
  c = default.get_config()
  c.pipeline = 'prune_shrink_finetune'
  c.model = 'resnet_small'
  c.num_epochs = 2.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  c.structured = default_section('structured')
  c.structured.score = 'bn_scale'
  c.structured.slimming_l1 = 1e-3
  c.structured.distribution = 'global'
  c.structured.sparsity = 0.5
  c.structured.schedule = 'one_shot'
  c.structured.step = 2 * 468 - 1   # the last step of stage 1
  c.structured.finetune_epochs = 2.0
  c.structured.finetune_learning_rate = 0.02
  return c
