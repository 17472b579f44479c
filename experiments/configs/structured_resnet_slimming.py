"""Network slimming of the residual net: L1 on batch-norm scales, global
threshold, shrink (residual channels kept together), fine-tune.

Reproduces (in method): ANCHORS.md "Structured pruning", network slimming
(Liu et al. 2017): MLP 784-500-300 1.43% -> 1.49% with -84.4% parameters;
the method on our conv net with batch norm and residual blocks.

Procedure (`prune_shrink_finetune`): stage 1 trains ResNetSmall (16, 32)
for a quarter epoch (117 steps) with the loss plus 1e-2 * sum |gamma| over every
batch norm after a prunable conv; at its last step half of all channels go
under one global threshold on |gamma| (summed over the batch norms a
residual group shares), with the two groups each stage width sets kept equal
(`tie_groups`); the model is shrunk to ResNetSmall(stage_features=(a, b))
and fine-tuned alone for a quarter epoch. Short because one dense step costs
~1.6 s (and more under the load of four agents) on the shared CPU;
one seed.

  python experiments/main.py --config=experiments/configs/structured_resnet_slimming.py \
      --workdir=workdirs/structured_resnet_slimming

Runtime: about 10 minutes (loaded) on the shared 2-core CPU.
Result: the one run (57 min for stage 1 on the loaded CPU) pruned nothing
because of a tie rule since fixed (see docs/results_structured.md); not
rerun. Expect stage 1 alone to take ~6 min on an idle 2-core CPU.
"""

from configs import default

from jaxcompress.structured import default_section


def get_config():
  c = default.get_config()
  c.entry = 'jaxcompress.structured.experiment:prune_shrink_finetune'
  c.model = 'resnet_small'
  c.num_train_steps = 117
  c.steps_per_call = 39
  c.batch_size = 128
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  c.structured = default_section()
  c.structured.score = 'bn_scale'
  c.structured.slimming_l1 = 1e-2
  c.structured.distribution = 'global'
  c.structured.sparsity = 0.5
  c.structured.schedule = 'one_shot'
  c.structured.step = 116
  c.structured.finetune_epochs = 0.25
  c.structured.finetune_learning_rate = 0.02
  return c
