"""Quantization sweep on LeNet-5 (Caffe form, 431,080 params): PTQ and QAT.

Same sweep and anchors as quant_lenet_300_100.py (ANCHORS.md, Quantization:
torchvision int8 PTQ; Krishnamoorthi 2018 Tables 3 and 5; Jacob et al. 2018),
on the conv net: both convolutions and both dense layers run as int8 x int8
-> int32 in the integer model. Float baseline: LeNet-5 0.80% (Han 2015).
Targets (issue 5): int8 PTQ within 0.1 points of float; int4 per-channel QAT
within 0.3 points.

  python experiments/main.py --config=experiments/configs/quant_lenet5.py \
      --workdir=workdirs/quant_lenet5

What actually ran (time-boxed on the shared, overloaded 2-core CPU, where
one LeNet-5 epoch took 34 minutes at 0.24 steps/s): the float model is the
lenet5 config trained for 1 epoch (c.num_epochs = 1; the checkpoint it
resumes from in workdirs/quant_float_lenet5 was written after epoch 1 of an
interrupted 2-epoch cosine run, so its learning rate had not decayed to 0);
errors are on the first 2,000 test images (c.test_subset); PTQ only, the
weights + 8-bit-inputs variants at 8, 4 and 2 bits per channel (each also
reports its weights-only error); no QAT on LeNet-5.

Runtime: about 15 minutes on the loaded CPU after the float epoch (1 seed).
Result: docs/results_quantization.md (python benchmarks/quant_table.py).
"""

from configs import lenet5, quant_common


def get_config():
  c = lenet5.get_config()
  c.num_epochs = 1.0
  c.test_subset = 2000
  c.measure_latency = False
  c = quant_common.sweep(c, 'workdirs/quant_float_lenet5', qat_epochs=0.5,
                         qat_lr=0.005)
  keep = ('w8a8_channel', 'w4a8_channel', 'w2a8_channel')
  c.quantization.variants = tuple(
      (k, v) for k, v in c.quantization.variants if k in keep)
  c.quantization.qat = ()
  return c
