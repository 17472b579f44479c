"""Convolution and pooling layers that train fast inside XLA CPU loops.

`Conv` is a `flax.linen.Conv` (same attributes, parameter names and shapes,
and ``isinstance(layer, nn.Conv)`` holds) whose convolution is
`conv_general_dilated`: the forward pass is ``lax.conv_general_dilated``
itself, so a traced jaxpr still shows one ``conv_general_dilated`` (inside a
``custom_vjp_call``) for the structured-pruning tracer, and only the gradient
differs, on CPU.

Why (BUILD.md, "Convolutions in the scanned epoch on CPU"): JAX transposes a
convolution into two convolutions whose dimension numbers are not
NHWC/HWIO/NHWC (the kernel gradient treats the batch as the feature axis).
XLA's CPU compiler turns such convolutions into canonical ones with
transposes (``ConvCanonicalization``), which then run in a library kernel,
but only in the entry computation; inside a while loop (``lax.scan``: the
scanned epoch) they stay non-canonical and are emitted as XLA's own loop
nests (a scanned LeNet-5 train step ran 7.9x slower,
benchmarks/conv_profile.py). Here the gradients are written as
canonical convolutions (and, where the transposed convolution would mostly
multiply zeros, a matmul and an overlap-add), so they are fast everywhere.
Other platforms keep JAX's own transpose (``lax.platform_dependent``).

`train_compiler_options` are the XLA options jaxcompress compiles its train
steps with: on CPU, convolutions run in Eigen instead of YNNPACK, whose
kernel-gradient convolutions (the batch as the feature axis) are several
times slower (BUILD.md); dots and reductions keep YNNPACK, so a model
without convolutions compiles to the same program as without the options.

`max_pool_2x2` is ``nn.max_pool``'s 2x2/2 max pooling with the gradient of a
reshape and a max, element-wise (XLA CPU's ``select_and_scatter`` for
``nn.max_pool`` is slower). Its forward pass is XLA's ``reduce_window``,
which LiteRT exports as MAX_POOL_2D.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

__all__ = ['Conv', 'conv_general_dilated', 'max_pool_2x2',
           'train_compiler_options']

# The input gradient goes through a matmul and an overlap-add instead of the
# transposed convolution when that convolution computes at least this many
# times more output positions than the forward one (strides, VALID padding:
# it multiplies zeros). Chosen by timing both inside a loop: the matmul won
# on LeNet-5's conv2 (ratio 2.25) and the residual net's stride-2
# convolutions (4.0), the convolution on its stride-1 ones (1.0).
_DX_MATMUL_RATIO = 2.0


# XLA:CPU's YNNPACK fusion types in jax 0.10.2 are REDUCE, INDIVIDUAL_DOT
# and INDIVIDUAL_CONVOLUTION by default; the train steps keep the first two.
_CPU_TRAIN_OPTIONS = {
    'xla_cpu_experimental_ynn_fusion_type':
        'LIBRARY_FUSION_TYPE_REDUCE,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT'}


def train_compiler_options() -> dict[str, str] | None:
  """``compiler_options`` for ``jax.jit`` of a train step or scanned epoch.

  On CPU: convolutions leave YNNPACK for Eigen (LeNet-5's scanned epoch
  runs about 2x faster; ``benchmarks/train_speed.py``, BUILD.md), everything
  else is compiled as by default. Other backends: None. Pass it to your own
  ``jax.jit`` of a train step to get the same.
  """
  return dict(_CPU_TRAIN_OPTIONS) if jax.default_backend() == 'cpu' else None


def _canonical(nsp: int):
  sp = 'HWD'[:nsp]
  return ('N' + sp + 'C', sp + 'IO', 'N' + sp + 'C')


def _input_grad_conv(g, k, x_shape, strides, pads, dil, precision):
  """d conv / d x as a stride-1 canonical convolution of the dilated `g`."""
  nsp = k.ndim - 2
  flipped = jnp.swapaxes(jnp.flip(k, tuple(range(nsp))), -1, -2)
  cpads = []
  for i in range(nsp):
    kd = (k.shape[i] - 1) * dil[i] + 1
    gd = (g.shape[1 + i] - 1) * strides[i] + 1
    lo = kd - 1 - pads[i][0]
    cpads.append((lo, x_shape[1 + i] + kd - 1 - gd - lo))
  return lax.conv_general_dilated(g, flipped, (1,) * nsp, cpads,
                                  lhs_dilation=strides, rhs_dilation=dil,
                                  dimension_numbers=_canonical(nsp),
                                  precision=precision)


def _patches(x, ksize, strides, pads, dil, out_sp):
  """``(N, *out_sp, prod(ksize) * C)``: every window of `x`, kernel-major."""
  x = jnp.pad(x, [(0, 0), *pads, (0, 0)])
  cols = []
  for offs in itertools.product(*(range(k) for k in ksize)):
    start = (0, *(o * d for o, d in zip(offs, dil)), 0)
    limit = (x.shape[0], *(o * d + (n - 1) * s + 1 for o, d, n, s in
                           zip(offs, dil, out_sp, strides)), x.shape[-1])
    cols.append(lax.slice(x, start, limit, (1, *strides, 1)))
  return jnp.concatenate(cols, axis=-1)


def _input_grad_matmul(g, k, x, strides, pads, dil, precision):
  """d conv / d x as ``g @ k^T`` and the overlap-add of the windows."""
  nsp = k.ndim - 2
  cols = jnp.dot(g, k.reshape(-1, k.shape[-1]).T, precision=precision)
  to_patches = lambda x: _patches(x, k.shape[:nsp], strides, pads, dil,
                                  g.shape[1:-1])
  return jax.linear_transpose(to_patches, x)(cols)[0]


def _kernel_grad_conv(x, g, k_shape, strides, pads, dil, precision):
  """d conv / d kernel as a canonical convolution: channels as the batch,
  the batch as the feature axis, `g` as the kernel."""
  nsp = len(k_shape) - 2
  cpads = []
  for i in range(nsp):
    gd = (g.shape[1 + i] - 1) * strides[i] + 1
    lo = pads[i][0]
    hi = (k_shape[i] - 1) * dil[i] + gd - x.shape[1 + i] - lo
    if hi < 0:  # rows the forward windows never reach
      x = lax.slice_in_dim(x, 0, x.shape[1 + i] + hi, axis=1 + i)
      hi = 0
    cpads.append((lo, hi))
  sp = tuple(range(1, nsp + 1))
  out = lax.conv_general_dilated(
      jnp.transpose(x, (nsp + 1, *sp, 0)), jnp.transpose(g, (*sp, 0, nsp + 1)),
      dil, cpads, rhs_dilation=strides, dimension_numbers=_canonical(nsp),
      precision=precision)
  return jnp.transpose(out, (*sp, 0, nsp + 1))


def _cpu_grads(x, k, g, strides, pads, dil, precision):
  if math.prod(x.shape[1:-1]) >= _DX_MATMUL_RATIO * math.prod(g.shape[1:-1]):
    dx = _input_grad_matmul(g, k, x, strides, pads, dil, precision)
  else:
    dx = _input_grad_conv(g, k, x.shape, strides, pads, dil, precision)
  dk = _kernel_grad_conv(x, g, k.shape, strides, pads, dil, precision)
  return dx, dk


def _xla_conv(x, k, strides, pads, dil, precision):
  return lax.conv_general_dilated(x, k, strides, pads, rhs_dilation=dil,
                                  dimension_numbers=_canonical(k.ndim - 2),
                                  precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _conv(x, k, strides, pads, dil, precision):
  return _xla_conv(x, k, strides, pads, dil, precision)


def _conv_fwd(x, k, strides, pads, dil, precision):
  return _xla_conv(x, k, strides, pads, dil, precision), (x, k)


def _conv_bwd(strides, pads, dil, precision, res, g):
  x, k = res

  def default(x, k, g):
    _, vjp = jax.vjp(lambda x, k: _xla_conv(x, k, strides, pads, dil,
                                            precision), x, k)
    return vjp(g)

  cpu = lambda x, k, g: _cpu_grads(x, k, g, strides, pads, dil, precision)
  return lax.platform_dependent(x, k, g, cpu=cpu, default=default)


_conv.defvjp(_conv_fwd, _conv_bwd)


def _tuple(v, n: int) -> tuple[int, ...]:
  if v is None:
    return (1,) * n
  return (v,) * n if isinstance(v, int) else tuple(v)


def conv_general_dilated(lhs: jax.Array, rhs: jax.Array,
                         window_strides: Sequence[int],
                         padding: str | Sequence[tuple[int, int]],
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None,
                         feature_group_count: int = 1,
                         batch_group_count: int = 1,
                         precision: Any = None,
                         preferred_element_type: Any = None) -> jax.Array:
  """``lax.conv_general_dilated`` with CPU-friendly gradients.

  Same arguments and result. Channels-last convolutions (NHWC/HWIO/NHWC in
  any number of spatial dimensions, as `flax.linen.Conv` builds them) of
  floating inputs without input dilation or groups go through a
  `jax.custom_vjp` whose forward pass is ``lax.conv_general_dilated`` and
  whose gradients, on CPU, are canonical convolutions (or a matmul and an
  overlap-add; see the module docstring); anything else is passed to
  ``lax.conv_general_dilated`` unchanged.

  Args:
    lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
    dimension_numbers, feature_group_count, batch_group_count, precision,
    preferred_element_type: as for ``jax.lax.conv_general_dilated``.

  Returns:
    The convolution, as ``lax.conv_general_dilated`` computes it.
  """
  nsp = rhs.ndim - 2
  plain = functools.partial(
      lax.conv_general_dilated, lhs, rhs, window_strides, padding,
      lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
      dimension_numbers=dimension_numbers,
      feature_group_count=feature_group_count,
      batch_group_count=batch_group_count, precision=precision,
      preferred_element_type=preferred_element_type)
  canonical = lax.conv_dimension_numbers(lhs.shape, rhs.shape,
                                         _canonical(nsp))
  if (lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
      != canonical or feature_group_count != 1 or batch_group_count != 1
      or any(d != 1 for d in _tuple(lhs_dilation, nsp))
      or preferred_element_type is not None or lhs.dtype != rhs.dtype
      or not jnp.issubdtype(lhs.dtype, jnp.floating)):
    return plain()
  strides = _tuple(window_strides, nsp)
  dil = _tuple(rhs_dilation, nsp)
  if isinstance(padding, str):
    dilated = [(k - 1) * d + 1 for k, d in zip(rhs.shape[:nsp], dil)]
    pads = lax.padtype_to_pads(lhs.shape[1:-1], dilated, strides, padding)
  else:
    pads = padding
  pads = tuple((int(lo), int(hi)) for lo, hi in pads)
  if any(lo < 0 or hi < 0 for lo, hi in pads):
    return plain()
  return _conv(lhs, rhs, strides, pads, dil, precision)


class _ConvFunction:
  """What `flax.linen.Conv` instantiates from ``conv_general_dilated_cls``."""

  def __call__(self, *args, **kwargs):
    return conv_general_dilated(*args, **kwargs)


class Conv(nn.Conv):
  """`flax.linen.Conv` computed by `conv_general_dilated`.

  Same attributes, parameters and outputs as ``nn.Conv`` (and an instance of
  it, so interceptors that look for ``nn.Conv`` see it); on CPU its gradients
  stay fast inside ``lax.scan``.
  """
  conv_general_dilated_cls: Any = _ConvFunction


def _pool_windows(x):
  n, h, w, c = x.shape
  return x.reshape(n, h // 2, 2, w // 2, 2, c)


@jax.custom_vjp
def _max_pool_2x2(x):
  return nn.max_pool(x, (2, 2), (2, 2))


def _max_pool_fwd(x):
  y = _max_pool_2x2(x)
  return y, (x, y)


def _max_pool_bwd(res, g):
  # JAX's own gradient of a reshape-and-max, written out: the cotangent
  # divided among the window's maxima.
  x, y = res
  hit = _pool_windows(x) == y[:, :, None, :, None, :]
  share = g / hit.sum(axis=(2, 4), dtype=g.dtype)
  return (jnp.where(hit, share[:, :, None, :, None, :],
                    jnp.zeros((), g.dtype)).reshape(x.shape),)


_max_pool_2x2.defvjp(_max_pool_fwd, _max_pool_bwd)


def max_pool_2x2(x: jax.Array) -> jax.Array:
  """2x2 max pooling with stride 2 of an NHWC array.

  The forward pass is ``nn.max_pool(x, (2, 2), (2, 2))`` itself (XLA's
  ``reduce_window``, LiteRT's MAX_POOL_2D once exported); its gradient is an
  element-wise compare-and-select instead of XLA's ``select_and_scatter``,
  which is several times slower on CPU (LeNet-5's per-step train call runs
  about 1.4x faster, ../shared/notes/cpu-conv.md). Where a window holds tied
  maxima the gradient is shared among them (``nn.max_pool``: the first).
  Odd sizes go to ``nn.max_pool`` whole.

  Args:
    x: ``(batch, height, width, channels)``.

  Returns:
    ``(batch, height // 2, width // 2, channels)``.
  """
  _, h, w, _ = x.shape
  if h % 2 or w % 2:
    return nn.max_pool(x, (2, 2), (2, 2))
  return _max_pool_2x2(x)
