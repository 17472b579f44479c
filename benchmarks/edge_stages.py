"""Where LeNet-5's batch-1 LiteRT time goes, per stage and format.

Issue 15 asks for the shrunk LeNet-5 in int8 to be the fastest row of its
family. This script exports the first k stages of each finished LeNet-5 run
(conv1, pool1, conv2, pool2, fc1 + ReLU, fc2) in the model's own graph as
their own .tflite files in every format and times them alternately at batch
1 with 1 thread (`export.time_alternating`), so each stage's cost is the
difference of two rows. With one input channel the converter emits conv1 as
a DEPTHWISE_CONV_2D with a channel multiplier, whose int8 kernel is slow.

The last row of each model is the whole model as `export.to_tflite` writes
quantized files: conv1 on the 2x2 space-to-depth input, a CONV_2D of four
input channels (`jaxcompress.export.space_to_depth`; its logits checked to
1e-4 against the model).

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
from jax import lax  # noqa: E402

from jaxcompress import export, layers, models  # noqa: E402
from jaxcompress.export import fold, runs  # noqa: E402

STAGES = ('conv1', '+ pool1', '+ conv2', '+ pool2', '+ fc1, ReLU', '+ fc2')
FORMATS = ('none', 'dynamic', 'int8')
# Every prefix of the model's own graph, then the whole model as exported.
LOWERINGS = tuple(range(1, 7)) + ('exported',)


def _conv(x, p):
  return lax.conv_general_dilated(
      x, p['kernel'], (1, 1), 'VALID',
      dimension_numbers=('NHWC', 'HWIO', 'NHWC')) + p['bias']


def stage_fn(params, k: int):
  """The first `k` stages of LeNet-5 (`STAGES`) as ``x -> y``."""
  def f(x):
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
    for k in LOWERINGS:
      f = (fold.inference_fn(run.model, run.variables, shape,
                             int8_lowering=True)
           if k == 'exported' else stage_fn(params, k))
      if k in (6, 'exported'):
        diff = float(jnp.max(jnp.abs(f(x8) - want)))
        if diff > 1e-4:
          raise RuntimeError(f'{name}: stage code differs from the model by '
                             f'{diff}')
      for q in FORMATS:
        tfl = export.function_to_tflite(f, input_shape=shape, quantize=q,
                                        calibration_images=calib)
        call = export.runner(tfl, 1)
        fns[(name, k, q)] = lambda call=call, x1=x1: call(x1)
  load0 = os.getloadavg()[0]
  ms = export.time_alternating(fns, args.rounds, args.block)
  print(f'LiteRT, batch 1, 1 thread, median of {args.rounds} rounds x '
        f'{args.block} calls, alternating; microseconds; 1-minute load '
        f'average {load0:.1f} before, {os.getloadavg()[0]:.1f} after\n')
  print('| LeNet-5 | stages exported | float32 | dynamic-range | int8 '
        '| int8 - dynamic |')
  print('|---|---|---|---|---|---|')
  for name in names:
    for k in LOWERINGS:
      us = [1000 * ms[(name, k, q)] for q in FORMATS]
      label = ('all, as exported: conv1 on the space-to-depth input'
               if k == 'exported' else ' '.join(STAGES[:k]))
      print(f'| {name} | {label} | {us[0]:.1f} | {us[1]:.1f} | {us[2]:.1f} '
            f'| {us[2] - us[1]:+.1f} |')


if __name__ == '__main__':
  main()
