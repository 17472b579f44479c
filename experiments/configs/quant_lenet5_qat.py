"""LeNet-5: per-tensor int8 PTQ and a short int4 per-channel QAT.

Completes quant_lenet5.py (same float model, reused from
workdirs/quant_float_lenet5, same 2,000 test images) with the rows it had no
time for: W8 per tensor + 8-bit inputs (PTQ), and QAT of W4 per channel +
8-bit inputs for a quarter of an epoch (117 steps at lr 0.005) from the float
weights. Anchors: ANCHORS.md Quantization rows (Krishnamoorthi 2018, Tables 3
and 5). Target (issue 5): int4 per-channel QAT within 0.3 points of float.

  python experiments/main.py --config=experiments/configs/quant_lenet5_qat.py \
      --workdir=workdirs/quant_lenet5_qat

Runtime: about 15 minutes on the shared, loaded 2-core CPU (1 seed, seed 0).
Result: docs/results_quantization.md (python benchmarks/quant_table.py).
"""

from configs import quant_lenet5


def get_config():
  c = quant_lenet5.get_config()
  base = {'per_channel': False, 'act_bits': 8}
  c.quantization.variants = (('w8a8_tensor', dict(base, weight_bits=8)),)
  c.quantization.qat = (('w4a8_channel', {
      'weight_bits': 4, 'per_channel': True, 'act_bits': 8,
      'epochs': 0.25, 'learning_rate': 0.005}),)
  return c
