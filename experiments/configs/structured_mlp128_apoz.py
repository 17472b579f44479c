"""Activation-based pruning (APoZ) of MLP 784-128-10 down to 64 hidden units.

Reproduces: the write-ups' activation-based strategy on their example MLP
784-128-10 (ANCHORS.md "Plain baselines": MLP 784-128-10 about 2% error), and
compares with the same-budget dense net 784-64-10 (the model-compression
baseline). Hu et al. 2016 ("Network Trimming") prune the neurons with the
highest APoZ, the share of zeros after ReLU on real data.

Procedure: train dense 5 epochs; at epoch 5, score each hidden neuron by
-APoZ on 1,024 training images (inside the compiled step, via method
interception), remove the 64 with the most zeros (one shot), fine-tune 5
epochs under the mask; then physically shrink to 784-64-10.

  python experiments/main.py --config=experiments/configs/structured_mlp128_apoz.py \
      --workdir=workdirs/structured_mlp128_apoz

Runtime: about 1 minute of training on the shared 2-core CPU.
Result (seed 0, measured): 784-64-10, 2.22% test error (dense 784-128-10
with the same run: 1.91%; 784-64-10 from scratch: 2.32%); other scores via
--config.structured.score=mean|mean_abs|l2|taylor: 2.15 / 2.15 / 2.05 /
2.25%. Table: docs/results_structured.md.
"""

from configs import default

from jaxcompress.plugins import default_section


def get_config():
  c = default.get_config()
  c.model = 'mlp_128'
  c.num_epochs = 10.0
  c.batch_size = 128
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  c.structured = default_section('structured')
  c.structured.score = 'apoz'
  c.structured.sparsity = 0.5
  c.structured.schedule = 'one_shot'
  c.structured.units = 'epochs'
  c.structured.step = 5.0
  c.structured.calibration_examples = 1024
  return c
