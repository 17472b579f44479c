"""Dense LeNet-300-100 trained with dropout and random translations.

The same 784-300-100-10 network as lenet_300_100.py (266,610 params), with
the regularization Hinton et al. (2015) gave their MNIST teacher: dropout
0.2 after each hidden layer and random translations by up to 2 pixels,
trained twice as long (40 epochs). A better dense model of the same
architecture, used as the teacher of auto_lenet300_bytes_64x_dense_teacher.py.

  python experiments/main.py --config=experiments/configs/lenet_300_100_augmented.py \
      --workdir=workdirs/lenet_300_100_augmented

Runtime: about twice lenet_300_100.py's (60 s a seed on 55,000 images,
two seeds at a time on the 2-core CPU). Result (3 seeds, the last 5,000
training images held out, as benchmarks/auto_targets.py trains it): 1.01%,
1.04% and 0.96% test error, against 1.65%, 1.60% and 1.74% for
lenet_300_100.py's recipe; README.md, "LeNet-300-100 distilled from a
better-trained LeNet-300-100".
"""

from configs import lenet_300_100


def get_config():
  c = lenet_300_100.get_config()
  c.num_epochs = 40.0
  c.model_kwargs = {'dropout_rate': 0.2}
  c.jitter_pixels = 2
  return c
