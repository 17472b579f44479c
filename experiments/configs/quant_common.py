"""Shared quantization sweep for the quant_* experiment configs.

`sweep(base)` adds a `quantization` section to a float baseline config: PTQ
at 8, 4 and 2 bits, per tensor and per channel, weights only and weights
plus 8-bit affine inputs of every Dense/Conv layer (those run as an integer
model); 2-bit also with the MSE-optimal weight range; and QAT fine-tuning
from the float weights at the same bit widths with 8-bit inputs.
"""

import ml_collections

BITS = (8, 4, 2)


def ptq_variants():
  out = []
  for bits in BITS:
    for per_channel, tag in ((False, 'tensor'), (True, 'channel')):
      base = {'weight_bits': bits, 'per_channel': per_channel}
      out.append((f'w{bits}_{tag}', dict(base, act_bits=0)))
      out.append((f'w{bits}a8_{tag}', dict(base, act_bits=8)))
  out.append(('w2_channel_mse', {'weight_bits': 2, 'per_channel': True,
                                 'act_bits': 0, 'weight_method': 'mse'}))
  return tuple(out)


def qat_variants(epochs: float, learning_rate: float):
  out = []
  for bits in BITS:
    for per_channel, tag in ((False, 'tensor'), (True, 'channel')):
      out.append((f'w{bits}a8_{tag}', {
          'weight_bits': bits, 'per_channel': per_channel, 'act_bits': 8,
          'epochs': epochs, 'learning_rate': learning_rate}))
  return tuple(out)


def sweep(c, float_workdir: str, qat_epochs: float, qat_lr: float):
  c.pipeline = 'ptq'
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=8, weight_symmetric=True, per_channel=True,
      act_bits=8, act_symmetric=False, act_method='minmax',
      calib_images=500))
  c.ptq = ml_collections.ConfigDict(dict(
      float_workdir=float_workdir, variants=ptq_variants(),
      qat=qat_variants(qat_epochs, qat_lr)))
  return c
