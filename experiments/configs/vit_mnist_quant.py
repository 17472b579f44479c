"""int8 post-training quantization and int4 QAT of the MNIST ViT.

Starts from the trained dense ViT (vit_mnist.py). Every Dense layer (patch
embedding, attention query/key/value/out, MLP fc1/fc2, head: 26 layers) gets
symmetric per-output-channel weights and affine 8-bit inputs calibrated
(min/max) on 500 training images, and runs as an int8 x int8 -> int32 layer
in the integer model (quantization.integer); LayerNorm, softmax and the
attention products stay float. PTQ variants: int8 weights only, int8
weights + inputs, int4 weights + int8 inputs. QAT: int4 weights + int8
inputs, 2 epochs from the float weights (AdamW, lr 1e-4, cosine), straight-
through gradients. Targets (issue 13): int8 PTQ within 0.1 points of the
dense error.

  for s in 0 1 2; do
    python experiments/main.py --config=experiments/configs/vit_mnist_quant.py \
        --workdir=workdirs/vit_mnist_quant_s$s --config.seed=$s \
        --config.ptq.float_workdir=workdirs/vit_mnist_s$s
  done

Runtime and result: README.md, "A transformer: the zoo's ViT on MNIST"
(median of 3 seeds; benchmarks/vit_mnist_table.py).
"""

import ml_collections
from configs import vit_mnist


def get_config():
  c = vit_mnist.get_config()
  c.pipeline = 'ptq'
  c.measure_latency = False
  c.schedule = 'cosine'   # QAT fine-tuning; the float run is vit_mnist.py
  c.warmup_steps = 0
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=8, weight_symmetric=True, per_channel=True,
      act_bits=8, act_symmetric=False, act_method='minmax',
      calib_images=500))
  c.ptq = ml_collections.ConfigDict(dict(
      float_workdir='workdirs/vit_mnist_s0',
      variants=(
          ('w8_channel', {'weight_bits': 8, 'act_bits': 0}),
          ('w8a8_channel', {'weight_bits': 8, 'act_bits': 8}),
          ('w4a8_channel', {'weight_bits': 4, 'act_bits': 8}),
      ),
      qat=(('w4a8_channel', {'weight_bits': 4, 'act_bits': 8,
                             'epochs': 2.0, 'learning_rate': 1e-4}),)))
  return c
