"""A convolution and the 2x2 max pool after it, computed on pixel blocks.

For CPU inference of narrow convolutions (LeNet-5's, and the structurally
shrunk ones above all). XLA:CPU runs a convolution of few channels far
below its rate on wide ones: the shrunk LeNet-5 9-18-25 has 5.79x fewer
FLOPs than the dense model and ran 1.2x faster (BUILD.md, issue 17). On
f x f pixel blocks (space-to-depth) the same convolution has f^2 times the
input and output channels and a kernel of B = (K - 1) / f + 1 blocks:

  x (N, H, W, Cin)  ->  blocks (N, H/f, W/f, f^2 Cin)
  k (K, K, Cin, C)  ->  k' (B, B, f^2 Cin, f^2 C): output position (u, v)
                        of a block reads pixel (r, r') of input block
                        (A, A') through tap (f A + r - u, f A' + r' - v)

and the 2x2 pooling window lies inside a block (f even), so it becomes a
max over four slices of the output channels; the output channels are
ordered (a, b, p, q, c) for output position (2 p + a, 2 q + b) of the
block. k' holds k's values (and zeros) in a new layout; the sums run in
another order than one convolution's (equal to 1e-5, tested).

`ConvPool2x2` is that computation as a module whose parameters are
`nn.Conv`'s ('kernel' (K, K, Cin, C), 'bias' (C,)), so a model can swap it
for a convolution followed by `layers.max_pool_2x2` at inference and load
the same checkpoint (`models.LeNet5(lowering='blocked')`). Faster only
with the convolutions in Eigen (compiled with nothing in YNNPACK:
`benchmarks/structured_latency.py` picks per model).
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


def factor(in_channels: int, kernel_size: int) -> int:
  """The block side: 4 for fewer than 4 input channels where it divides
  K - 1 (LeNet's 5x5 on one channel: 16 channels instead of 4), else 2."""
  if in_channels < 4 and (kernel_size - 1) % 4 == 0:
    return 4
  return 2


def _check(x_shape, k_shape, f: int) -> None:
  size = k_shape[0]
  if len(x_shape) != 4 or len(k_shape) != 4 or k_shape[1] != size:
    raise ValueError(f'conv_pool takes NHWC inputs and square HWIO kernels, '
                     f'got {tuple(x_shape)} and {tuple(k_shape)}')
  if f < 2 or f % 2 or (size - 1) % f:
    raise ValueError(f'conv_pool: block side {f} must be even and divide '
                     f'kernel size - 1 = {size - 1}')
  if x_shape[1] % f or x_shape[2] % f or min(x_shape[1:3]) < size:
    raise ValueError(f'conv_pool: input {tuple(x_shape[1:3])} is not tiled '
                     f'by {f}x{f} blocks or is smaller than the {size}x{size} '
                     'kernel')


def blocked_kernel(k: jax.Array, f: int) -> jax.Array:
  """(K, K, Cin, C) -> (B, B, f^2 Cin, f^2 C), output channels (a, b, p, q,
  c) for output position (2 p + a, 2 q + b) of a block."""
  size, _, cin, c = k.shape
  b = (size - 1) // f + 1
  phases = []
  for u in range(f):
    for v in range(f):
      # padded[i, j] = k[i - u, j - v] on the B f x B f window of blocks.
      padded = jnp.pad(k, ((u, b * f - size - u), (v, b * f - size - v),
                           (0, 0), (0, 0)))
      phases.append(padded.reshape(b, f, b, f, cin, c).transpose(
          0, 2, 1, 3, 4, 5).reshape(b, b, f * f * cin, c))
  h = f // 2
  out = jnp.stack(phases, axis=-2).reshape(b, b, f * f * cin, h, 2, h, 2, c)
  return out.transpose(0, 1, 2, 4, 6, 3, 5, 7).reshape(
      b, b, f * f * cin, f * f * c)


def conv_pool_2x2(x: jax.Array, kernel: jax.Array, bias: jax.Array | None,
                  f: int) -> jax.Array:
  """max_pool_2x2(conv(x, kernel, VALID, stride 1) + bias), NHWC, on f x f
  blocks.

  Raises:
    ValueError: f odd or not dividing K - 1, the input not tiled by blocks.
  """
  _check(x.shape, kernel.shape, f)
  n, hh, ww, cin = x.shape
  c = kernel.shape[-1]
  blocks = x.reshape(n, hh // f, f, ww // f, f, cin).transpose(
      0, 1, 3, 2, 4, 5).reshape(n, hh // f, ww // f, f * f * cin)
  y = lax.conv_general_dilated(blocks, blocked_kernel(kernel, f), (1, 1),
                               'VALID',
                               dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  gh, gw, h = y.shape[1], y.shape[2], f // 2
  y = y.reshape(n, gh, gw, 4, h, h, c).max(axis=3)   # (n, gh, gw, p, q, c)
  if bias is not None:   # a per-channel bias commutes with the max
    y = y + bias
  return y.transpose(0, 1, 3, 2, 4, 5).reshape(n, gh * h, gw * h, c)


class ConvPool2x2(nn.Module):
  """A VALID, stride-1 `nn.Conv` and a 2x2 max pool, as `conv_pool_2x2`;
  the same parameters as `nn.Conv(features, kernel_size)`."""
  features: int
  kernel_size: Sequence[int]
  use_bias: bool = True

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    size = tuple(self.kernel_size)
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (*size, x.shape[-1], self.features))
    bias = (self.param('bias', nn.initializers.zeros_init(), (self.features,))
            if self.use_bias else None)
    return conv_pool_2x2(x, kernel, bias, factor(x.shape[-1], size[0]))
