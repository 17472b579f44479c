"""Calibration: choosing the range ``[lo, hi]`` a quantizer covers.

Four methods, per tensor or per channel (the spec's `axis`):

| method          | range                                                    |
|-----------------|----------------------------------------------------------|
| 'minmax'        | ``[min x, max x]``                                        |
| 'moving_average'| min/max per batch, averaged ``r <- (1-m) r + m r_batch``  |
|                 | (Jacob et al. 2018, TF's ``moving_average_abs_max``)      |
| 'percentile'    | ``[P_(100-p)(x), P_p(x)]``, clipping outliers             |
| 'mse'           | ``alpha* [min x, max x]``, ``alpha*`` minimising           |
|                 | ``||x - fake_quant(x)||^2`` over a grid of alphas          |
|                 | (Banner et al. 2019; Nagel et al. 2021 white paper, 3.3)  |

`compute_range` takes one array (weights, or stacked activations);
`calibrate` takes a sequence of batches and is what PTQ calls. Both return
keepdims-shaped ranges to feed `quantizers.scale_zero_point`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxcompress.quantization import quantizers
from jaxcompress.quantization.quantizers import QuantSpec

METHODS = ('minmax', 'moving_average', 'percentile', 'mse')


def _check_method(method: str) -> None:
  if method not in METHODS:
    raise ValueError(
        f'Unknown calibration method {method!r}; known: {METHODS}')


def percentile_range(x: jax.Array, spec: QuantSpec, percentile: float = 99.99
                     ) -> tuple[jax.Array, jax.Array]:
  """``[P_(100-p), P_p]`` per tensor or channel (keepdims shapes)."""
  if not 50.0 < percentile <= 100.0:
    raise ValueError(f'percentile must be in (50, 100], got {percentile}')
  axes = quantizers.reduce_axes(spec, jnp.ndim(x))
  lo = jnp.percentile(x, 100.0 - percentile, axis=axes, keepdims=True)
  hi = jnp.percentile(x, percentile, axis=axes, keepdims=True)
  return lo, hi


def mse_range(x: jax.Array, spec: QuantSpec, num_candidates: int = 100,
              min_ratio: float = 0.05) -> tuple[jax.Array, jax.Array]:
  """The shrunk min/max range with the least quantization MSE.

  Tries ``alpha in linspace(min_ratio, 1, num_candidates)`` and keeps, per
  tensor or per channel, the ``alpha [min, max]`` minimising
  ``sum (x - fake_quant(x))^2`` (nearest rounding).
  """
  if num_candidates < 1:
    raise ValueError(f'num_candidates must be >= 1, got {num_candidates}')
  axes = quantizers.reduce_axes(spec, jnp.ndim(x))
  lo, hi = quantizers.tensor_range(x, spec)
  nearest = QuantSpec(spec.bits, spec.symmetric, spec.axis, 'nearest')
  alphas = jnp.linspace(min_ratio, 1.0, num_candidates)

  def error(alpha):
    scale, zp = quantizers.scale_zero_point(alpha * lo, alpha * hi, nearest)
    xq = quantizers.dequantize(
        quantizers.quantize(x, scale, zp, nearest), scale, zp)
    return jnp.sum((x - xq) ** 2, axis=axes, keepdims=True)

  errors = jax.lax.map(error, alphas)          # (num_candidates, *keepdims)
  best = alphas[jnp.argmin(errors, axis=0)]    # first minimum: ties -> smaller
  return best * lo, best * hi


def compute_range(x: jax.Array, spec: QuantSpec, method: str = 'minmax',
                  **kwargs) -> tuple[jax.Array, jax.Array]:
  """Range of one array by `method` ('moving_average' = 'minmax' here).

  Raises:
    ValueError: unknown method, empty array, or bad per-channel axis.
  """
  _check_method(method)
  spec.check_rank(jnp.ndim(x))
  if jnp.size(x) == 0:
    raise ValueError('cannot calibrate a quantization range on an empty array')
  if method == 'percentile':
    return percentile_range(x, spec, **kwargs)
  if method == 'mse':
    return mse_range(x, spec, **kwargs)
  return quantizers.tensor_range(x, spec)


class RangeState(NamedTuple):
  """Running range: `lo`, `hi` (keepdims shapes) and batches seen."""
  lo: jax.Array
  hi: jax.Array
  count: jax.Array


def moving_average_update(state: RangeState | None, x: jax.Array,
                          spec: QuantSpec, momentum: float = 0.1
                          ) -> RangeState:
  """``r <- (1 - m) r + m minmax(x)``; the first batch sets the range."""
  if not 0.0 < momentum <= 1.0:
    raise ValueError(f'momentum must be in (0, 1], got {momentum}')
  lo, hi = quantizers.tensor_range(x, spec)
  if state is None:
    return RangeState(lo, hi, jnp.ones((), jnp.int32))
  return RangeState((1 - momentum) * state.lo + momentum * lo,
                    (1 - momentum) * state.hi + momentum * hi,
                    state.count + 1)


def calibrate(batches: Iterable[jax.Array], spec: QuantSpec,
              method: str = 'minmax', **kwargs
              ) -> tuple[jax.Array, jax.Array]:
  """Scale and zero point for a tensor seen over calibration batches.

  Args:
    batches: arrays of the tensor (e.g. a layer's inputs) on successive
      calibration batches; per-channel axes refer to each batch's axes.
    spec: the quantization spec.
    method: one of `METHODS`. 'moving_average' folds batches one by one
      (kwarg `momentum`); the others pool all batches first.
    **kwargs: `percentile`, or `num_candidates` / `min_ratio` for 'mse'.

  Returns:
    `(scale, zero_point)` (keepdims shapes).

  Raises:
    ValueError: for an empty calibration set, an unknown method, or a range
      that is NaN or infinite.
  """
  _check_method(method)
  batches = [jnp.asarray(b) for b in batches]
  batches = [b for b in batches if b.size]
  if not batches:
    raise ValueError('cannot calibrate on an empty set of batches')
  if method == 'moving_average':
    state = None
    for b in batches:
      state = moving_average_update(state, b, spec, **kwargs)
    lo, hi = state.lo, state.hi
  else:
    axis = spec.check_rank(batches[0].ndim)
    # Batches stack along axis 0 unless that is the channel axis.
    pooled = jnp.concatenate(batches, axis=0 if axis != 0 else -1)
    lo, hi = compute_range(pooled, spec, method, **kwargs)
  lo, hi = np.asarray(lo), np.asarray(hi)
  if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
    raise ValueError(
        f'calibrated range is NaN or infinite (lo={lo}, hi={hi}); the '
        'calibration data holds non-finite values')
  return quantizers.scale_zero_point(lo, hi, spec)
