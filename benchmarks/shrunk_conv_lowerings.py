"""LeNet-5's forward pass at batch 1024, dense against shrunk 9-18-25, under
other lowerings of the shrunk model's narrow convolutions (issue 17's point
4; BUILD.md, "Space-to-depth, measured in the step and in the model").

  python benchmarks/shrunk_conv_lowerings.py [--repeats=11]

Both networks are written as plain functions of LeNet-5's shapes (conv 5x5
VALID -> 2x2 max pool, twice, then fc -> ReLU -> fc), random weights. Rows:

  xla         lax.conv_general_dilated and reduce_window, XLA's defaults
  s2d_pool    each convolution on the 2x2 space-to-depth input (a 3x3
              convolution from 4 C to 4 O channels) and the 2x2 pooling as a
              max over each block's four output positions
              (`conv_pool.conv_pool_2x2` with block side 2)
  s2d_dot     the same, each convolution as its 3x3 window of blocks
              gathered into patches (9 slices side by side) and one matmul
  blocked     `conv_pool.conv_pool_2x2` at the block side `conv_pool.factor`
              picks (4x4 blocks for conv1's one input channel, 2x2 for
              conv2), as `LeNet5(lowering='blocked')` computes
  *_eigen_conv    the same, compiled with every convolution in Eigen
                  (YNNPACK keeps dots and reductions, as in the train steps)
  *_no_ynnpack    the same, compiled with nothing in YNNPACK

All variants alternate within each repeat; medians are printed with the
speed-up against the dense model under XLA's defaults and the largest
difference from the xla row's logits.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcompress import conv_pool

DN = ('NHWC', 'HWIO', 'NHWC')
# XLA:CPU hands these to YNNPACK (default: REDUCE, INDIVIDUAL_DOT,
# INDIVIDUAL_CONVOLUTION); what it does not take runs in Eigen or XLA's own code.
_YNN = 'xla_cpu_experimental_ynn_fusion_type'
OPTIONS = ((None, ''),
           ({_YNN: 'LIBRARY_FUSION_TYPE_REDUCE,'
                   'LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}, '_eigen_conv'),
           ({_YNN: ''}, '_no_ynnpack'))


def conv(x, k):
  return lax.conv_general_dilated(x, k, (1, 1), 'VALID', dimension_numbers=DN)


def pool(x):
  return lax.reduce_window(x, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1),
                           'VALID')


def conv_pool_s2d_dot(x, k, bias):
  n, h, w, ci = x.shape
  c = k.shape[-1]
  k_s2d = conv_pool.blocked_kernel(k, 2)
  blocks = x.reshape(n, h // 2, 2, w // 2, 2, ci).transpose(0, 1, 3, 2, 4, 5)
  blocks = blocks.reshape(n, h // 2, w // 2, 4 * ci)
  b = k_s2d.shape[0]
  ho, wo = h // 2 - b + 1, w // 2 - b + 1
  patches = jnp.concatenate([blocks[:, i:i + ho, j:j + wo]
                             for i in range(b) for j in range(b)], axis=-1)
  y = patches.reshape(-1, patches.shape[-1]) @ k_s2d.reshape(
      -1, k_s2d.shape[-1])
  return y.reshape(n, ho, wo, 4, c).max(axis=3) + bias


def network(widths, lowering, rng):
  c1, c2, f1 = widths
  k1 = rng.normal(0, .2, (5, 5, 1, c1)).astype(np.float32)
  k2 = rng.normal(0, .1, (5, 5, c1, c2)).astype(np.float32)
  b1, b2 = (rng.normal(0, 1, c).astype(np.float32) for c in (c1, c2))
  w3 = rng.normal(0, .05, (16 * c2, f1)).astype(np.float32)
  w4 = rng.normal(0, .1, (f1, 10)).astype(np.float32)
  cp = {'s2d_pool': lambda x, k, b: conv_pool.conv_pool_2x2(x, k, b, 2),
        's2d_dot': conv_pool_s2d_dot,
        'blocked': lambda x, k, b: conv_pool.conv_pool_2x2(
            x, k, b, conv_pool.factor(k.shape[2], k.shape[0]))}.get(lowering)

  def f(x):
    if cp:
      y = cp(cp(x, k1, b1), k2, b2)
    else:
      y = pool(conv(pool(conv(x, k1) + b1), k2) + b2)
    return jax.nn.relu(y.reshape(y.shape[0], -1) @ w3) @ w4
  return f


def main():
  p = argparse.ArgumentParser()
  p.add_argument('--repeats', type=int, default=11)
  p.add_argument('--batch', type=int, default=1024)
  a = p.parse_args()
  x = jnp.asarray(np.random.default_rng(1).normal(
      size=(a.batch, 28, 28, 1)).astype(np.float32))
  rows = {}
  for name, widths in (('dense', (20, 50, 500)), ('shrunk', (9, 18, 25))):
    for lowering in ('xla', 's2d_pool', 's2d_dot', 'blocked'):
      for opts, tag in OPTIONS:
        f = network(widths, lowering, np.random.default_rng(0))
        rows[f'{name} {lowering}{tag}'] = jax.jit(f, compiler_options=opts)
  ref = {n: rows[f'{n} xla'](x) for n in ('dense', 'shrunk')}
  diff = {k: float(jnp.max(jnp.abs(f(x) - ref[k.split()[0]])))
          for k, f in rows.items()}
  times = {k: [] for k in rows}
  for _ in range(a.repeats):
    for k, f in rows.items():
      t = time.perf_counter()
      f(x).block_until_ready()
      times[k].append(time.perf_counter() - t)
  base = np.median(times['dense xla'])
  print(f'jax {jax.__version__}, batch {a.batch}, median of {a.repeats} '
        'alternating repeats')
  print('| model, lowering | ms | speed-up vs dense xla | max abs diff vs xla |')
  print('|---|---|---|---|')
  for k, v in times.items():
    m = np.median(v)
    print(f'| {k} | {1e3 * m:.1f} | {base / m:.2f}x | {diff[k]:.1e} |')


if __name__ == '__main__':
  main()
