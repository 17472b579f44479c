"""Where LeNet-5's batch-1 LiteRT time goes, per stage and format.

Issue 15 asks for the shrunk LeNet-5 in int8 to be the fastest row of its
family; benchmarks/edge_latency.py finds its dynamic-range twin faster. This
script says where: it exports the first k stages of each finished LeNet-5
run (conv1, pool1, conv2, pool2, fc1 + ReLU, fc2) as their own .tflite files
in every format and times them alternately at batch 1 with 1 thread
(`export.time_alternating`), so each stage's cost is the difference of two
rows. With one input channel the converter emits conv1 as a
DEPTHWISE_CONV_2D with a channel multiplier.

The last rows time a second lowering of the whole model: conv1 and pool1 as
a 3x3 convolution of the space-to-depth input (2x2 pixel blocks as 4
channels, 4 x the output channels, one per position in the pooling window)
and a max over the four positions; it computes the same logits (checked to
1e-4 against the model) with a CONV_2D of 4 input channels in place of the
depthwise one.

  python benchmarks/edge_stages.py [--runs workdirs/lenet5,workdirs/structured_lenet5]
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

from jaxcompress import export, layers, models  # noqa: E402
from jaxcompress.export import runs  # noqa: E402

STAGES = ('conv1', '+ pool1', '+ conv2', '+ pool2', '+ fc1, ReLU', '+ fc2')
FORMATS = ('none', 'dynamic', 'int8')
# (stages, space-to-depth conv1): every prefix, then the whole model rewritten.
LOWERINGS = tuple((k, False) for k in range(1, 7)) + ((6, True),)


def _conv(x, p):
  return lax.conv_general_dilated(
      x, p['kernel'], (1, 1), 'VALID',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + p['bias']


def _s2d_conv_pool(x, p):
  """A 5x5 VALID convolution of one channel and 2x2 max pooling, as a 3x3
  convolution of the 2x2 space-to-depth input and a max over the four
  positions of each pooling window."""
  k = np.asarray(p['kernel'])                       # (5, 5, 1, c)
  c = k.shape[-1]
  n, h = x.shape[0], x.shape[1]
  # K[A, r, u] = k[2A + r - u]: output offset u of the pooling window reads
  # input offset 2A + r of the 2x2 block A (a constant, built in numpy).
  def shifted(u, v):
    return np.pad(k[:, :, 0], ((u, 1 - u), (v, 1 - v), (0, 0)))  # (6, 6, c)
  big = np.stack([np.stack([shifted(u, v) for v in (0, 1)], 2)
                  for u in (0, 1)], 2)              # (6, 6, 2u, 2v, c)
  big = big.reshape(3, 2, 3, 2, 2, 2, c).transpose(0, 2, 1, 3, 4, 5, 6)
  big = big.reshape(3, 3, 4, 4 * c)
  blocks = x.reshape(n, h // 2, 2, h // 2, 2).transpose(0, 1, 3, 2, 4)
  y = lax.conv_general_dilated(blocks.reshape(n, h // 2, h // 2, 4),
                               jnp.asarray(big),
                               (1, 1), 'VALID',
                               dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  o = h // 2 - 2
  return y.reshape(n, o, o, 4, c).max(3) + p['bias']


def stage_fn(params, k: int, s2d: bool = False):
  """The first `k` stages of LeNet-5 (`STAGES`) as ``x -> y``."""
  def f(x):
    if s2d:
      x = _s2d_conv_pool(x, params['conv1'])
    else:
      x = _conv(x, params['conv1'])
      if k >= 2:
        x = layers.max_pool_2x2(x)
    if k >= 3:
      x = _conv(x, params['conv2'])
    if k >= 4:
      x = layers.max_pool_2x2(x)
    if k >= 5:
      x = x.reshape(x.shape[0], -1) @ params['fc1']['kernel']
      x = jax.nn.relu(x + params['fc1']['bias'])
    if k >= 6:
      x = x @ params['fc2']['kernel'] + params['fc2']['bias']
    return x
  return f


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--runs', default='workdirs/lenet5,'
                  'workdirs/structured_lenet5')
  ap.add_argument('--rounds', type=int, default=40)
  ap.add_argument('--block', type=int, default=20)
  args = ap.parse_args()
  fns, names = {}, []
  for w in args.runs.split(','):
    run = runs.load(w)
    if not isinstance(run.model, models.LeNet5) or run.model.batch_norm:
      raise ValueError(f'{w}: not a LeNet-5 without batch norm')
    ds = runs.dataset(run)
    params = jax.tree.map(jnp.asarray, run.variables['params'])
    x8 = ds.test_images[:8]
    want = run.model.apply(run.variables, x8, train=False)
    calib = ds.train_images[:run.calib_images]
    shape = tuple(run.results['input_shape'])
    name = '-'.join(map(str, run.model.features))
    names.append(name)
    x1 = ds.test_images[:1]
    for k, s2d in LOWERINGS:
      f = stage_fn(params, k, s2d)
      if k == 6:
        diff = float(jnp.max(jnp.abs(f(x8) - want)))
        if diff > 1e-4:
          raise RuntimeError(f'{name}: stage code differs from the model by '
                             f'{diff}')
      for q in FORMATS:
        tfl = export.function_to_tflite(f, input_shape=shape, quantize=q,
                                        calibration_images=calib)
        call = export.runner(tfl, 1)
        fns[(name, k, s2d, q)] = lambda call=call, x1=x1: call(x1)
  load0 = os.getloadavg()[0]
  ms = export.time_alternating(fns, args.rounds, args.block)
  print(f'LiteRT, batch 1, 1 thread, median of {args.rounds} rounds x '
        f'{args.block} calls, alternating; microseconds; 1-minute load '
        f'average {load0:.1f} before, {os.getloadavg()[0]:.1f} after\n')
  print('| LeNet-5 | stages exported | float32 | dynamic-range | int8 '
        '| int8 - dynamic |')
  print('|---|---|---|---|---|---|')
  for name in names:
    for k, s2d in LOWERINGS:
      us = [1000 * ms[(name, k, s2d, q)] for q in FORMATS]
      label = ('all, conv1 + pool1 as space-to-depth 3x3 conv' if s2d
               else ' '.join(STAGES[:k]))
      print(f'| {name} | {label} | {us[0]:.1f} | {us[1]:.1f} | {us[2]:.1f} '
            f'| {us[2] - us[1]:+.1f} |')


if __name__ == '__main__':
  main()
