"""LSQ learned step sizes against min-max QAT, LeNet-5 at 4 and 2 bits.

Reproduces the comparison of Esser et al. 2020 ("Learned Step Size
Quantization", ANCHORS.md: ResNet-18 ImageNet 2-bit 67.6%, 3-bit 70.2%,
4-bit 71.1% against 70.5% full precision; learned steps matter most at the
lowest widths) on LeNet-5: QAT fine-tuning from the trained float baseline
(workdirs/lenet5), per-channel symmetric weights at 4 and 2 bits, 8-bit
affine inputs of every layer (calibrated min/max, integer model), with the
weight grid either recomputed from each kernel's range at every step
(quantizer 'minmax', the library's default) or learned (quantizer 'lsq',
steps initialised at 2 mean|w| / sqrt(qmax)). Two epochs at lr 0.005
(cosine) each.

  python experiments/main.py --config=experiments/configs/lenet5.py \
      --workdir=workdirs/lenet5
  for s in 0 1 2; do python experiments/main.py \
      --config=experiments/configs/quant_lenet5_lsq.py \
      --workdir=workdirs/quant_lenet5_lsq/seed$s --config.seed=$s; done

The seed changes the fine-tuning's data order (the float baseline is seed
0's). README, "LSQ" (python benchmarks/quant_table.py --rows=quant_lenet5_lsq
--seeds=0,1,2 --root=workdirs).
"""

import ml_collections
from configs import lenet5


def get_config():
  c = lenet5.get_config()
  c.measure_latency = False
  c.pipeline = 'ptq'
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=4, weight_symmetric=True, per_channel=True, act_bits=8,
      act_symmetric=False, calib_images=500))
  qat = []
  for bits in (4, 2):
    for quantizer in ('minmax', 'lsq'):
      qat.append((f'{quantizer}_w{bits}a8', dict(
          weight_bits=bits, quantizer=quantizer, epochs=2.0,
          learning_rate=0.005)))
  c.ptq = ml_collections.ConfigDict(dict(
      float_workdir='workdirs/lenet5', variants=(), qat=tuple(qat)))
  return c
