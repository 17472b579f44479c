"""Float baseline: ResNet-50 on ImageNet (imagenet2012), torchvision's
architecture (25,557,032 parameters) trained with the Flax ImageNet example's
recipe.

NOT RUN HERE: no ImageNet and no accelerator on this machine. tfds prepares
imagenet2012 offline from ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar
in --config.manual_dir (jaxcompress.data checks they are there before
anything starts).

Recipe: SGD with Nesterov momentum 0.9, batch 1024, lr 0.4 (0.1 x batch /
256) with 5 epochs of linear warm-up then cosine decay, weight decay 1e-4,
100 epochs; training images are Inception-style random resized crops to
224x224 with horizontal flips, evaluation the central 224/256 of the shorter
side (jaxcompress.augment, in the tf.data stream). ImageNet does not fit in
memory: `data.feed_path` says so and the run must stream (in_memory=False),
including its evaluation set.

  python experiments/main.py --config=experiments/configs/imagenet_resnet50.py \
      --workdir=workdirs/imagenet_resnet50 --config.manual_dir=/data/imagenet

Expected: about 76% top-1 (torchvision 76.13%; the Flax example 76.72%
after 100 epochs).

Cost (not measured here): the Flax example reports 13.7 hours on 8 V100
GPUs for these 100 epochs (about 110 GPU-hours).
"""

from configs import default


def get_config():
  c = default.get_config()
  c.dataset = 'imagenet2012'
  c.model = 'resnet50'
  c.model_kwargs.batch_norm = True   # recorded, so the folded model is known
  c.in_memory = False
  c.num_epochs = 100.0
  c.batch_size = 1024
  c.eval_batch_size = 1000
  c.optimizer = 'nesterov'
  c.learning_rate = 0.4
  c.momentum = 0.9
  c.weight_decay = 1e-4
  c.schedule = 'warmup_cosine'
  c.warmup_steps = 5 * 1251
  c.eval_every_steps = 1251 * 10
  c.checkpoint_every_steps = 1251
  c.measure_latency = False
  return c
