"""Quantization sweep on LeNet-5 (Caffe form, 431,080 params): PTQ and QAT.

Same sweep and anchors as quant_lenet_300_100.py (ANCHORS.md, Quantization:
torchvision int8 PTQ; Krishnamoorthi 2018 Tables 3 and 5; Jacob et al. 2018),
on the conv net: both convolutions and both dense layers run as int8 x int8
-> int32 in the integer model. Float baseline: LeNet-5 0.80% (Han 2015).
Targets (issue 5): int8 PTQ within 0.1 points of float; int4 per-channel QAT
within 0.3 points.

  python experiments/main.py --config=experiments/configs/lenet5.py \
      --workdir=workdirs/lenet5
  python experiments/main.py --config=experiments/configs/quant_lenet5.py \
      --workdir=workdirs/quant_lenet5

The float model is the lenet5 baseline run (workdirs/lenet5, reused as it
is); PTQ at 8, 4 and 2 bits, per tensor and per channel, weights only and
with 8-bit inputs; QAT fine-tunes one epoch at lr 0.005 (cosine) from the
float weights at each bit width with 8-bit inputs. Full test set, seed 0.

Runtime: 10 minutes after the baseline on the 2-core CPU.
Result (measured): float 0.67%; W8A8 PTQ 0.66% per tensor, 0.67% per
channel; W4A8 per channel 0.67% PTQ and 0.67% after QAT; 2-bit per channel
QAT 1.22%; every integer model bit-exact with its fake-quant evaluation;
files 0.25x (int8) and 0.13x (int4) the float32 file. Full table:
docs/results_quantization.md (python benchmarks/quant_table.py).
"""

from configs import lenet5, quant_common


def get_config():
  c = lenet5.get_config()
  c.measure_latency = False
  return quant_common.sweep(c, 'workdirs/lenet5', qat_epochs=1.0,
                            qat_lr=0.005)
