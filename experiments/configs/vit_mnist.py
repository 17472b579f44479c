"""Dense baseline: the zoo's small Vision Transformer on MNIST.

ViT (Dosovitskiy et al. 2021) at MNIST scale: 7x7 patches (16 tokens and a
class token), width 64, 4 pre-norm blocks of 4 heads, MLP 128 (139,018
parameters). AdamW (lr 1e-3, weight decay 0.05), 1 epoch of linear warm-up
then cosine decay, batch 128, 15 epochs, images shifted at random by up to
2 pixels (without it the same run overfits: 2.28% test error, seed 0).
Every weight is a Dense kernel, so the whole epoch runs as one compiled
scan (no convolution to slow XLA's CPU scan).

The baseline of the transformer rows of issue 13: GMP 50% / 80%
(vit_mnist_gmp.py), int8 PTQ and int4 QAT (vit_mnist_quant.py).
Target: <= 2.0% test error.

  python experiments/main.py --config=experiments/configs/vit_mnist.py \
      --workdir=workdirs/vit_mnist_s0 --config.seed=0

Runtime and result: README.md, "A transformer: the zoo's ViT on MNIST"
(median of 3 seeds; benchmarks/vit_mnist_table.py).
"""

from configs import default


def get_config():
  c = default.get_config()
  c.model = 'vit_tiny'
  c.model_kwargs.patch_size = 7
  c.num_epochs = 15.0
  c.batch_size = 128
  c.optimizer = 'adamw'
  c.learning_rate = 1e-3
  c.weight_decay = 0.05
  c.schedule = 'warmup_cosine'
  c.warmup_steps = 468
  c.jitter_pixels = 2
  return c
