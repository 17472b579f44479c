"""Dense MLP 784-128-10 on MNIST: the write-ups' running example.

Reproduces: "MLP 784-128-10 about 2%" (../shared/ANCHORS.md, Plain baselines);
the dense row of the comparison suite (experiments/configs/compare.py).

  python experiments/main.py --config=experiments/configs/mlp_128.py \
      --workdir=workdirs/mlp_128

Runtime: 20 epochs, well under a minute on a 2-core CPU. Result: README.md.
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'mlp_128'
  c.num_epochs = 20.0
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  return c
