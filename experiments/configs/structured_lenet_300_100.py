"""LeNet-300-100 shrunk to 784-88-33-10 by gradual structured pruning.

Reproduces: ANCHORS.md "Structured pruning", L0 regularization on
LeNet-300-100 (Louizos et al. 2018): 266-88-33 at 1.6% (1.8% elsewhere).
Their 266 counts input pixels kept; we prune the two hidden layers to their
88 and 33 units (input pixels stay 784) and ask for <= 1.8% error.

Procedure: units scored by the L2 norm of their incoming weights; the cubic
schedule of Zhu & Gupta (the `pruning` schedules) removes units from epoch 1
to epoch 10, every half epoch, to 212/300 of fc1 and 67/100 of fc2; training
continues to epoch 20 under the masks; the model is then physically shrunk to
784-88-33-10 (72,360 parameters, 3.7x fewer FLOPs).

  python experiments/main.py --config=experiments/configs/structured_lenet_300_100.py \
      --workdir=workdirs/structured_lenet_300_100

Runtime: about 2 minutes on the shared 2-core CPU.
Result (seed 0, measured): 784-88-33-10, 1.77% test error (177 errors),
72,357 params, 3.69x fewer FLOPs; 75 s of training. Dense baseline 1.54%.
"""

from configs import default

from jaxcompress.structured import default_section


def get_config():
  c = default.get_config()
  c.model = 'lenet_300_100'
  c.num_epochs = 20.0
  c.batch_size = 128
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  c.structured = default_section()
  c.structured.score = 'l2'
  c.structured.rules = (('^fc1$', 212 / 300), ('^fc2$', 67 / 100))
  c.structured.schedule = 'polynomial'
  c.structured.units = 'epochs'
  c.structured.begin = 1.0
  c.structured.end = 10.0
  c.structured.every = 0.5
  c.structured.power = 3.0
  return c
