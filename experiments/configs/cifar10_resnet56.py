"""Dense baseline: ResNet-56 on CIFAR-10 (He et al. 2016, section 4.2).

NOT RUN HERE: this machine has no CIFAR-10 and no accelerator. The config is
ready for where the data exists (tfds prepares cifar10 from
cifar-10-binary.tar.gz in --config.manual_dir, or downloads it).

Model: the zoo's ResNet-56, option-A identity shortcuts, 853,018
parameters, 125,485,696 multiply-accumulates per image. Recipe of He et al.:
SGD momentum 0.9, batch 128, weight decay 1e-4, lr 0.1 divided by 10 at 50%
and 75% of 164 epochs (their 32k / 48k / 64k iterations).

  python experiments/main.py --config=experiments/configs/cifar10_resnet56.py \
      --workdir=workdirs/cifar10_resnet56

Expected: about 93.0% test accuracy (He et al.: 6.97% error; Li et al.
2017's baseline 93.04%), with the standard augmentation (4-pixel padded
random crop and horizontal flip: `augment.device_augment('cifar', ...)`,
which the train step must apply for this dataset family; without it expect
a few points less).

Cost (estimated, not measured): 164 epochs x 50,000 images x ~0.75 GFLOP
(3x the forward pass) = 6.2e15 FLOP: under an hour on one current GPU. On a
2-core CPU it is out of reach (days).
"""

from configs import default


def get_config():
  c = default.get_config()
  c.dataset = 'cifar10'
  c.model = 'resnet56'
  c.num_epochs = 164.0
  c.batch_size = 128
  c.optimizer = 'momentum'
  c.learning_rate = 0.1
  c.momentum = 0.9
  c.weight_decay = 1e-4
  c.schedule = 'step'
  c.step_boundaries = (0.5, 0.75)
  c.step_factor = 0.1
  c.eval_every_steps = 390 * 10   # every 10 epochs
  return c
