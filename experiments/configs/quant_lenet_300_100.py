"""Quantization sweep on LeNet-300-100 (784-300-100-10): PTQ and QAT.

Reproduces, in the MNIST setting, the quantization rows of ANCHORS.md:
int8 post-training with per-channel weights costs ~0.2-0.3 points on
ResNet (torchvision: ResNet-50 76.13 -> 75.92, ResNet-18 69.76 -> 69.49);
per-layer vs per-channel weight scales matter at low bit widths
(Krishnamoorthi 2018, Table 3); 4-bit weights need QAT (Krishnamoorthi 2018,
Table 5: ResNet-50 PTQ 0.54 vs QAT 0.732, float 0.752); integer-only int8
inference (Jacob et al. 2018: ResNet-50 76.4 -> 74.9). Float baseline:
LeNet-300-100 1.64% (Han et al. 2015).
Targets (issue 5): int8 PTQ within 0.1 points of the float error; int4
per-channel QAT within 0.3 points.

  python experiments/main.py --config=experiments/configs/quant_lenet_300_100.py \
      --workdir=workdirs/quant_lenet_300_100

The float model trains once into workdirs/quant_float_lenet_300_100 (20
epochs, the lenet_300_100 config) and is reused by a rerun. QAT fine-tunes
5 epochs at lr 0.005 (cosine) from the float weights, weights and 8-bit
inputs fake-quantized in the train step.

Runtime: about 10 minutes on the shared 2-core CPU (1 seed, seed 0).
Result: docs/results_quantization.md (python benchmarks/quant_table.py).
"""

from configs import lenet_300_100, quant_common


def get_config():
  c = lenet_300_100.get_config()
  return quant_common.sweep(c, 'workdirs/quant_float_lenet_300_100',
                            qat_epochs=5.0, qat_lr=0.005)
