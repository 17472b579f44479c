"""Uniform quantizers with straight-through gradients.

A `QuantSpec` says how a tensor is quantized: `bits` (2..8), symmetric or
affine, per-tensor (`axis=None`) or per-channel along `axis`, and the rounding
mode. Given a range ``[lo, hi]`` the scale ``s`` and zero point ``z`` are

  symmetric:  s = max(|lo|, |hi|) / qmax,  z = 0,
              q in [-(2^(b-1) - 1), 2^(b-1) - 1]   (narrow range, so -q exists)
  affine:     lo <- min(lo, 0), hi <- max(hi, 0),
              s = (hi - lo) / (2^b - 1),  z = clip(round(-lo / s), 0, 2^b - 1),
              q in [0, 2^b - 1]

so real zero is always exactly representable (``q = z`` dequantizes to 0,
which keeps pruned weights and zero padding exact). Quantize and dequantize:

  q = clip(round(x / s) + z, qmin, qmax),     x_hat = s (q - z).

`round` is round-half-to-even (nearest) or stochastic, ``floor(x / s + u)``
with ``u ~ U[0, 1)``, unbiased in expectation (Gupta et al. 2015, "Deep
learning with limited numerical precision").

Gradients are straight-through (Bengio et al. 2013; Jacob et al. 2018): the
derivative of ``x_hat`` w.r.t. ``x`` is 1 inside the representable range and
0 where the value was clipped. `lsq_fake_quant` also learns the step size
(LSQ, Esser et al. 2020, "Learned Step Size Quantization"):

  d x_hat / d s = round(x/s) - x/s   inside the range,   qmin or qmax outside,

scaled by ``1 / sqrt(numel * qmax)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

ROUNDINGS = ('nearest', 'stochastic')


@dataclasses.dataclass(frozen=True)
class QuantSpec:
  """How one tensor is quantized.

  Attributes:
    bits: integer width, 2 to 8.
    symmetric: zero point 0 and a signed narrow range if True; an affine
      (asymmetric, unsigned ``[0, 2^b - 1]``) grid with a zero point if False.
    axis: per-channel axis (one scale per index along it; ranges reduce over
      all other axes), or None for one scale for the whole tensor.
    rounding: 'nearest' or 'stochastic' (needs a PRNG key).
  """
  bits: int = 8
  symmetric: bool = True
  axis: int | None = None
  rounding: str = 'nearest'

  def __post_init__(self):
    if isinstance(self.bits, bool) or not isinstance(self.bits, (int, np.integer)):
      raise ValueError(f'bits must be an integer in 2..8, got {self.bits!r}')
    if not 2 <= self.bits <= 8:
      raise ValueError(f'bits must be in 2..8, got {self.bits}')
    if self.rounding not in ROUNDINGS:
      raise ValueError(
          f'rounding must be one of {ROUNDINGS}, got {self.rounding!r}')
    if self.axis is not None and not isinstance(self.axis, (int, np.integer)):
      raise ValueError(f'axis must be an int or None, got {self.axis!r}')

  @property
  def qmin(self) -> int:
    return -(2 ** (self.bits - 1) - 1) if self.symmetric else 0

  @property
  def qmax(self) -> int:
    return 2 ** (self.bits - 1) - 1 if self.symmetric else 2 ** self.bits - 1

  def check_rank(self, ndim: int) -> int | None:
    """The normalised channel axis for a tensor of rank `ndim`.

    Raises:
      ValueError: if the per-channel axis is out of range for that rank.
    """
    if self.axis is None:
      return None
    if not -ndim <= self.axis < ndim:
      raise ValueError(
          f'per-channel axis {self.axis} is out of range for a tensor of rank '
          f'{ndim} (valid: {-ndim}..{ndim - 1})')
    return self.axis % ndim


def reduce_axes(spec: QuantSpec, ndim: int) -> tuple[int, ...]:
  """Axes a range reduces over: all of them, or all but the channel axis."""
  axis = spec.check_rank(ndim)
  return tuple(a for a in range(ndim) if a != axis)


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def check_finite(x, what: str) -> None:
  """Raises ValueError if a concrete array has a NaN or infinite entry."""
  if _is_concrete(x) and not np.all(np.isfinite(np.asarray(x))):
    raise ValueError(f'{what} has a NaN or infinite value: {np.asarray(x)}')


def scale_zero_point(lo: jax.Array, hi: jax.Array, spec: QuantSpec
                     ) -> tuple[jax.Array, jax.Array]:
  """Scale and zero point of the grid that covers ``[lo, hi]``.

  Args:
    lo, hi: range ends, scalars or per-channel arrays (keepdims shapes).
    spec: the quantization spec.

  Returns:
    `(scale, zero_point)`, float32 arrays shaped like `lo`; the zero point is
    integer-valued (0 when symmetric). An all-zero range gets scale 1.

  Raises:
    ValueError: if a concrete range holds a NaN or an infinity.
  """
  check_finite(lo, 'quantization range (lo)')
  check_finite(hi, 'quantization range (hi)')
  lo = jnp.minimum(jnp.asarray(lo, jnp.float32), 0.0)
  hi = jnp.maximum(jnp.asarray(hi, jnp.float32), 0.0)
  if spec.symmetric:
    scale = jnp.maximum(-lo, hi) / spec.qmax
    zero_point = jnp.zeros_like(scale)
  else:
    scale = (hi - lo) / (spec.qmax - spec.qmin)
  # A constant-zero tensor: any scale represents it; avoid 0/0.
  scale = jnp.where(scale > 0, scale, 1.0)
  if not spec.symmetric:
    zero_point = jnp.clip(jnp.round(spec.qmin - lo / scale),
                          spec.qmin, spec.qmax)
  return scale, zero_point


def _round(v: jax.Array, spec: QuantSpec, key: jax.Array | None) -> jax.Array:
  if spec.rounding == 'nearest':
    return jnp.round(v)
  if key is None:
    raise ValueError("rounding='stochastic' needs a PRNG key")
  return jnp.floor(v + jax.random.uniform(key, v.shape, v.dtype))


def quantize(x: jax.Array, scale: jax.Array, zero_point: jax.Array,
             spec: QuantSpec, key: jax.Array | None = None) -> jax.Array:
  """Integer codes ``q = clip(round(x / s) + z, qmin, qmax)``, as float32.

  Not differentiable (use `fake_quant` or `quantize_ste` for training); cast
  with `.astype(jnp.int8)` etc. for storage.
  """
  q = _round(x / scale, spec, key) + zero_point
  return jnp.clip(q, spec.qmin, spec.qmax)


def dequantize(q: jax.Array, scale: jax.Array, zero_point: jax.Array
               ) -> jax.Array:
  """``x_hat = s (q - z)`` in float32."""
  return scale * (jnp.asarray(q, jnp.float32) - zero_point)


def _codes_primal(x, scale, zero_point, spec, noise):
  """``clip(round(x / s) + z) - z``: integer-valued codes."""
  v = x / scale
  r = jnp.floor(v + noise) if spec.rounding == 'stochastic' else jnp.round(v)
  return jnp.clip(r + zero_point, spec.qmin, spec.qmax) - zero_point


def _codes_fwd(x, scale, zero_point, spec, noise):
  v = x / scale
  inside = (v + zero_point >= spec.qmin - 0.5) & (
      v + zero_point <= spec.qmax + 0.5)
  return _codes_primal(x, scale, zero_point, spec, noise), (inside, scale)


def _codes_bwd(spec, res, g):
  del spec
  inside, scale = res
  # d codes / d x = 1/s inside the range, 0 where clipped; the range itself
  # (calibrated or computed from the weights) gets no gradient.
  gx = jnp.where(inside, g / scale, 0.0)
  return gx, None, None, None


_centered_codes = jax.custom_vjp(_codes_primal, nondiff_argnums=(3,))
_centered_codes.defvjp(_codes_fwd, _codes_bwd)


def _noise(x, spec, key):
  if spec.rounding == 'stochastic':
    if key is None:
      raise ValueError("rounding='stochastic' needs a PRNG key")
    return jax.random.uniform(key, jnp.shape(x), jnp.float32)
  return jnp.zeros((), jnp.float32)


def quantize_ste(x: jax.Array, scale: jax.Array, zero_point: jax.Array,
                 spec: QuantSpec, key: jax.Array | None = None) -> jax.Array:
  """Centred integer codes ``q - z`` (float32) with straight-through grads.

  ``d (q - z) / d x = 1 / s`` inside the range and 0 where clipped, so
  ``s * quantize_ste(x)`` is `fake_quant`. Integer-valued floats let a layer
  multiply codes exactly and rescale once (see `apply.py`).
  """
  scale = jax.lax.stop_gradient(jnp.asarray(scale, jnp.float32))
  zero_point = jax.lax.stop_gradient(jnp.asarray(zero_point, jnp.float32))
  return _centered_codes(x, scale, zero_point, spec, _noise(x, spec, key))


def fake_quant(x: jax.Array, scale: jax.Array, zero_point: jax.Array,
               spec: QuantSpec, key: jax.Array | None = None) -> jax.Array:
  """Quantize-dequantize ``s (clip(round(x/s) + z, qmin, qmax) - z)``.

  The forward pass sees the quantized value; the backward pass is
  straight-through (identity inside the range, zero where clipped). Scale and
  zero point are treated as constants.

  Example:
    >>> spec = QuantSpec(bits=8)
    >>> float(fake_quant(jnp.float32(0.3), 0.1, 0.0, spec))
    0.30000001192092896
  """
  scale = jax.lax.stop_gradient(jnp.asarray(scale, jnp.float32))
  return scale * quantize_ste(x, scale, zero_point, spec, key)


def tensor_range(x: jax.Array, spec: QuantSpec) -> tuple[jax.Array, jax.Array]:
  """Min and max of `x` per tensor or per channel (keepdims shapes)."""
  axes = reduce_axes(spec, jnp.ndim(x))
  return (jnp.min(x, axis=axes, keepdims=True),
          jnp.max(x, axis=axes, keepdims=True))


def fake_quant_tensor(x: jax.Array, spec: QuantSpec,
                      key: jax.Array | None = None) -> jax.Array:
  """`fake_quant` with the min/max range of `x` itself (weights in QAT)."""
  lo, hi = jax.lax.stop_gradient(tensor_range(x, spec))
  scale, zero_point = scale_zero_point(lo, hi, spec)
  return fake_quant(x, scale, zero_point, spec, key)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _lsq(x, step, spec):
  v = jnp.clip(jnp.round(x / step), spec.qmin, spec.qmax)
  return v * step


def _lsq_fwd(x, step, spec):
  return _lsq(x, step, spec), (x, step)


def _lsq_bwd(spec, res, g):
  x, step = res
  v = x / step
  below, above = v < spec.qmin, v > spec.qmax
  inside = ~(below | above)
  gx = jnp.where(inside, g, 0.0)
  dstep = jnp.where(below, spec.qmin,
                    jnp.where(above, spec.qmax, jnp.round(v) - v))
  # LSQ's gradient scale keeps the step's update commensurate with weights'.
  grad_scale = 1.0 / math.sqrt(x.size * spec.qmax)
  gstep = g * dstep * grad_scale
  axes = tuple(a for a in range(x.ndim) if jnp.shape(step) == ()
               or step.shape[a] == 1)
  gstep = jnp.sum(gstep, axis=axes, keepdims=jnp.ndim(step) > 0)
  return gx, gstep.reshape(jnp.shape(step))


_lsq.defvjp(_lsq_fwd, _lsq_bwd)


def lsq_fake_quant(x: jax.Array, step: jax.Array, spec: QuantSpec
                   ) -> jax.Array:
  """Symmetric fake quantization with a learned step size (LSQ).

  ``x_hat = s clip(round(x / s), qmin, qmax)`` with gradients w.r.t. both
  `x` (straight-through) and `step` (Esser et al. 2020, eq. 3, with the
  gradient scale ``1 / sqrt(N qmax)``). Initialise the step with
  ``2 mean|x| / sqrt(qmax)`` (`lsq_init_step`).

  Args:
    x: tensor to quantize.
    step: positive step size; a scalar or, per channel, a keepdims-shaped
      array (e.g. ``(1, out)`` for a Dense kernel).
    spec: must be symmetric with nearest rounding.

  Raises:
    ValueError: if `spec` is affine or stochastic.
  """
  if not spec.symmetric or spec.rounding != 'nearest':
    raise ValueError('lsq_fake_quant supports symmetric, nearest-rounding '
                     f'specs only, got {spec}')
  return _lsq(x, step, spec)


def lsq_init_step(x: jax.Array, spec: QuantSpec) -> jax.Array:
  """LSQ's initial step ``2 mean|x| / sqrt(qmax)`` (per tensor or channel)."""
  axes = reduce_axes(spec, jnp.ndim(x))
  keep = spec.axis is not None
  return 2 * jnp.mean(jnp.abs(x), axis=axes, keepdims=keep) / math.sqrt(
      spec.qmax)
