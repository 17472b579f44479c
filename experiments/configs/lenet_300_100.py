"""Dense LeNet-300-100 baseline on MNIST (784-300-100-10, 266,610 params).

Reproduces: the LeNet-300-100 reference of Han et al. 2015, Table 1 (1.64% test
error), and the baseline every LeNet-300-100 compression row starts from.

  python experiments/main.py --config=experiments/configs/lenet_300_100.py \
      --workdir=workdirs/lenet_300_100

Runtime: 20 epochs, 40 s of training on the 2-core CPU.
Result (seed 0, measured): 1.54% test error (154 errors; published 1.64%);
README.md's baselines table.
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'lenet_300_100'
  c.num_epochs = 20.0
  c.batch_size = 128
  c.optimizer = 'momentum'
  c.learning_rate = 0.05
  c.weight_decay = 1e-4
  c.schedule = 'cosine'
  return c
