"""Quantization sweep on LeNet-5 (Caffe form, 431,080 params): PTQ and QAT.

Same sweep and anchors as quant_lenet_300_100.py (ANCHORS.md, Quantization:
torchvision int8 PTQ; Krishnamoorthi 2018 Tables 3 and 5; Jacob et al. 2018),
on the conv net: both convolutions and both dense layers run as int8 x int8
-> int32 in the integer model. Float baseline: LeNet-5 0.80% (Han 2015).
Targets (issue 5): int8 PTQ within 0.1 points of float; int4 per-channel QAT
within 0.3 points.

  python experiments/main.py --config=experiments/configs/quant_lenet5.py \
      --workdir=workdirs/quant_lenet5

The float model trains once into workdirs/quant_float_lenet5: the lenet5
config but 2 epochs instead of 15, because a LeNet-5 epoch took several
minutes on the shared, overloaded 2-core CPU (XLA's CPU convolutions); so its
float error is above Han's 0.80%. PTQ runs the weights + 8-bit-inputs
variants only (each also reports its weights-only error), and QAT fine-tunes
half an epoch at lr 0.005 for W4 and W2 per channel with 8-bit inputs.

Runtime: about 40 minutes on the shared, loaded 2-core CPU (1 seed, seed 0).
Result: docs/results_quantization.md (python benchmarks/quant_table.py).
"""

from configs import lenet5, quant_common


def get_config():
  c = lenet5.get_config()
  c.num_epochs = 2.0
  c = quant_common.sweep(c, 'workdirs/quant_float_lenet5', qat_epochs=0.5,
                         qat_lr=0.005)
  c.quantization.variants = tuple(
      (k, v) for k, v in c.quantization.variants
      if v['act_bits'] or k == 'w2_channel_mse')
  qat = dict(c.quantization.qat)
  c.quantization.qat = tuple((k, qat[k]) for k in ('w4a8_channel',
                                                   'w2a8_channel'))
  return c
