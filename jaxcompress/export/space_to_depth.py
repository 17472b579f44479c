"""A convolution of one input channel, exported as one of four channels.

With one input channel the LiteRT converter emits a convolution as a
DEPTHWISE_CONV_2D with a channel multiplier, and that op's int8 kernel is
slower than its float one: it made LeNet-5's int8 file slower than its
dynamic-range twin (README, Deploy; `benchmarks/edge_stages.py`). Export
therefore writes such a convolution (2-D, stride 1, no dilation, an odd
kernel, an even padded input) on the 2x2 space-to-depth input:

  x (N, H, W, 1)  ->  blocks (N, H/2, W/2, 4), the 2x2 pixel blocks
  k (K, K, 1, C)  ->  k' (B, B, 4, 4C), B = (K + 1) / 2 blocks cover a
                      kernel window for both output rows of a block
  y' = conv(blocks, k') + tile(b, 4)  ->  y (N, 2 H', 2 W', C), the four
                      output positions of each block back in place

a CONV_2D of four input channels followed by a reshape and a transpose.
k' holds k's own values (and zeros) in a new layout, one output channel per
(position in the block, channel); each of them takes its channel's weights,
so an int8 export quantizes them to the same codes on the same per-channel
scales, and the integer products are the model's own (tested). Floating
sums run in another order (equal to the convolution to 1e-5, tested).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxcompress import conv_pool


def kernel(k) -> np.ndarray:
  """(K, K, 1, C) -> (B, B, 4, 4 C), B = (K + 1) // 2, for an odd K.

  ``k'[A, A', 2 r + r', 2 u + v, c] = k[2 A + r - u, 2 A' + r' - v, c]``
  (zero outside the kernel): output position (u, v) of a block reads pixel
  (r, r') of input block (A, A') through that tap; output channel
  (2 u + v) C + c, as `conv` reshapes it. That is
  `conv_pool.blocked_kernel(k, 2)` for one input channel. Works on any
  dtype (int8 codes too: `carry.py`).
  """
  k = np.asarray(k)
  size, _, cin, c = k.shape
  if cin != 1 or size % 2 == 0 or k.shape[1] != size:
    raise ValueError(f'space_to_depth.kernel takes an odd square kernel of '
                     f'one input channel, got shape {k.shape}')
  with jax.ensure_compile_time_eval():   # a constant, also under a trace
    return np.asarray(conv_pool.blocked_kernel(jnp.asarray(k), 2))


def applies(module: nn.Module, x_shape) -> bool:
  """Whether `module` called on `x_shape` is exported as space-to-depth."""
  if not isinstance(module, nn.Conv) or len(x_shape) != 4 or x_shape[-1] != 1:
    return False
  ks = tuple(module.kernel_size)
  ones = lambda v: v is None or all(d == 1 for d in np.atleast_1d(v))
  if (len(ks) != 2 or ks[0] != ks[1] or ks[0] % 2 == 0
      or module.feature_group_count != 1 or not ones(module.strides)
      or not ones(module.kernel_dilation) or not ones(module.input_dilation)):
    return False
  pads = _pads(module, x_shape, ks[0])
  return pads is not None and all(
      (n + lo + hi) % 2 == 0 for n, (lo, hi) in zip(x_shape[1:3], pads))


def _pads(module, x_shape, size):
  p = module.padding
  if isinstance(p, str):
    if p not in ('VALID', 'SAME'):
      return None
    return lax.padtype_to_pads(x_shape[1:3], (size, size), (1, 1), p)
  if isinstance(p, int):
    return ((p, p),) * 2
  pads = tuple(tuple(int(d) for d in (q if isinstance(q, tuple) else (q, q)))
               for q in p)
  return pads if len(pads) == 2 and min(min(q) for q in pads) >= 0 else None


def conv(module: nn.Conv, x, k, b):
  """`module`'s convolution of `x` (one channel) by `k` plus bias `b` (or
  None), computed as the space-to-depth convolution (module docstring).
  Requires ``applies(module, x.shape)``."""
  size, c = k.shape[0], k.shape[-1]
  pads = _pads(module, x.shape, size)
  x = jnp.pad(x, ((0, 0), *pads, (0, 0)))
  n, h, w, _ = x.shape
  blocks = x.reshape(n, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 2, 4)
  y = lax.conv_general_dilated(
      blocks.reshape(n, h // 2, w // 2, 4), jnp.asarray(kernel(k)), (1, 1),
      'VALID', dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  if b is not None:
    y = y + np.tile(np.asarray(b), 4)
  oh, ow = y.shape[1:3]
  y = y.reshape(n, oh, ow, 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
  return y.reshape(n, 2 * oh, 2 * ow, c)
