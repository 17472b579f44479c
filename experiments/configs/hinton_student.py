"""Hinton et al. 2015, MNIST: the 784-800-800-10 student trained alone.

Reproduces: "student trained alone, no regularization: 146 errors (1.46%)"
(Hinton, Vinyals & Dean 2015, section 3; ../shared/ANCHORS.md, Distillation).

  python experiments/main.py --config=experiments/configs/hinton_student.py \
      --workdir=workdirs/hinton_student

Runtime: 30 epochs, 3.7 minutes of training on the 2-core CPU.
Result (seed 0, measured): 1.44% (144 errors; published 1.46%); README.md.
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'hinton_student'
  c.num_epochs = 30.0
  c.batch_size = 128
  c.optimizer = 'momentum'
  c.learning_rate = 0.05
  c.weight_decay = 0.0   # "no regularization"
  c.schedule = 'cosine'
  return c
