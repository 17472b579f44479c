"""Defaults every experiment config starts from: LeNet-300-100 on MNIST.

Every field is documented here; experiment configs import this and override.

  python experiments/main.py --config=experiments/configs/default.py \
      --workdir=/tmp/default
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  # What runs (jaxcompress.pipelines.PIPELINES): 'train' (one run),
  # 'lottery', 'ptq', 'prune_shrink_finetune', 'teacher_student', 'auto'.
  c.pipeline = 'train'
  c.seed = 0

  # Data: tensorflow-datasets, prepared offline from the bundled files.
  c.dataset = 'mnist'
  c.data_dir = ''        # '' -> $TFDS_DATA_DIR or ~/.cache/jaxcompress/...
  c.manual_dir = ''      # '' -> the repo's data/mnist (no network needed)
  c.in_memory = True     # False: stream batches through tf.data
  c.train_subset = 0     # >0: use only the first N training images (tests)
  c.test_subset = 0
  # >0: hold out the last N training images (after train_subset) as a
  # validation split; the run trains on the rest (jaxcompress.auto measures
  # on it, never on the test set).
  c.validation_examples = 0
  # On the stream path (in_memory=False) only the first N images of each
  # split are decoded: initialisation, calibration, activation statistics
  # and saliency scores draw from them; evaluation streams the test split.
  c.sample_examples = 2048
  c.jitter_pixels = 0    # random translation by up to N pixels (augmentation)

  # Model (jaxcompress.models.MODELS) and its module attributes.
  c.model = 'lenet_300_100'
  c.model_kwargs = ml_collections.ConfigDict()
  # Start from a finished run's variables: its workdir or its model.msgpack.
  c.init_from = ''
  # Shard parameters, optimizer and compression state over the devices
  # (FSDP-style, jaxcompress/train/sharding.py) instead of replicating them.
  c.shard_params = False

  # Optimization (jaxcompress.optim).
  c.batch_size = 128
  c.num_epochs = 20.0
  c.num_train_steps = -1  # >0 overrides num_epochs
  c.optimizer = 'momentum'
  c.learning_rate = 0.05
  c.momentum = 0.9
  c.weight_decay = 1e-4
  c.grad_clip_norm = 0.0
  c.schedule = 'cosine'
  c.warmup_steps = 0
  c.step_boundaries = (0.5, 0.75)
  c.step_factor = 0.1
  c.polynomial_power = 1.0
  c.end_learning_rate_factor = 0.0

  # Loop: steps per compiled call (-1: one epoch), logging, checkpoints.
  c.steps_per_call = -1
  c.eval_every_steps = -1        # -1: at the end only; else a multiple of steps_per_call
  c.checkpoint_every_steps = -1  # -1: every call
  c.eval_batch_size = 1000
  c.measure_latency = True
  c.log_every_steps = 100        # progress inside long compiled calls; -1 off
  # A NaN or infinite loss stops the run ('stop'), or is carried on with.
  c.on_nonfinite_loss = 'stop'
  # So does training that fell back to chance accuracy after it had learned
  # (jaxcompress.train.loop.collapsed).
  c.on_collapse = 'stop'

  # Compression sections (absent unless an experiment sets them; every field
  # is in jaxcompress/plugins/<section>.py): c.pruning, c.structured,
  # c.quantization, c.distillation, c.deep_compression. Pipeline sections:
  # c.lottery, c.ptq, c.teacher (jaxcompress/plugins/stages.py).
  return c
