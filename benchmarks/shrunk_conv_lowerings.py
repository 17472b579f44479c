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
  s2d_dot     the same, each convolution as its 3x3 window of blocks
              gathered into patches (9 slices side by side) and one matmul
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


def s2d_kernel(k):
  """(K, K, C, O) -> (B, B, 4 C, 4 O): output (u, v) of a 2x2 block reads
  pixel (r, r') of input block (A, A') through tap (2A + r - u, 2A' + r' - v)."""
  size, _, cin, c = k.shape
  b = (size + 1) // 2
  out = np.zeros((b, b, 2, 2, cin, 2, 2, c), k.dtype)
  for u in range(2):
    for v in range(2):
      p = np.zeros((2 * b, 2 * b, cin, c), k.dtype)
      p[u:u + size, v:v + size] = k
      out[:, :, :, :, :, u, v, :] = p.reshape(b, 2, b, 2, cin, c).transpose(
          0, 2, 1, 3, 4, 5)
  return out.reshape(b, b, 4 * cin, 4 * c)


def conv_pool_s2d(x, k_s2d, c):
  n, h, w, ci = x.shape
  blocks = x.reshape(n, h // 2, 2, w // 2, 2, ci).transpose(0, 1, 3, 2, 4, 5)
  y = conv(blocks.reshape(n, h // 2, w // 2, 4 * ci), k_s2d)
  return y.reshape(*y.shape[:3], 4, c).max(axis=3)


def conv_pool_s2d_dot(x, k_s2d, c):
  n, h, w, ci = x.shape
  blocks = x.reshape(n, h // 2, 2, w // 2, 2, ci).transpose(0, 1, 3, 2, 4, 5)
  blocks = blocks.reshape(n, h // 2, w // 2, 4 * ci)
  b = k_s2d.shape[0]
  ho, wo = h // 2 - b + 1, w // 2 - b + 1
  patches = jnp.concatenate([blocks[:, i:i + ho, j:j + wo]
                             for i in range(b) for j in range(b)], axis=-1)
  y = patches.reshape(-1, patches.shape[-1]) @ k_s2d.reshape(
      -1, k_s2d.shape[-1])
  return y.reshape(n, ho, wo, 4, c).max(axis=3)


def network(widths, lowering, rng):
  c1, c2, f1 = widths
  k1 = rng.normal(0, .2, (5, 5, 1, c1)).astype(np.float32)
  k2 = rng.normal(0, .1, (5, 5, c1, c2)).astype(np.float32)
  b1, b2 = (rng.normal(0, 1, c).astype(np.float32) for c in (c1, c2))
  w3 = rng.normal(0, .05, (16 * c2, f1)).astype(np.float32)
  w4 = rng.normal(0, .1, (f1, 10)).astype(np.float32)
  k1s, k2s = s2d_kernel(k1), s2d_kernel(k2)

  def f(x):
    if lowering != 'xla':   # a per-channel bias commutes with the max
      cp = conv_pool_s2d if lowering == 's2d_pool' else conv_pool_s2d_dot
      y = cp(x, k1s, c1) + b1
      y = cp(y, k2s, c2) + b2
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
    for lowering in ('xla', 's2d_pool', 's2d_dot'):
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
