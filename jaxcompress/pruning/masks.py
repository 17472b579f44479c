"""Exact-count masks: keep exactly k entries, ties broken by position.

Two mask types:

* unstructured: over one array (or a pool of arrays sharing one global
  threshold) keep the ``k`` entries with the largest scores;
* N:M: in every group of ``M`` consecutive entries along an axis keep the
  ``N`` largest (Mishra et al. 2021, "Accelerating Sparse Deep Neural
  Networks"; 2:4 is what sparse tensor cores run).

No full sort is used. Scores are mapped to unsigned 32-bit keys whose integer
order is the float order (``-inf`` lowest, NaN treated as ``-inf``); the
k-th largest key ``t`` is found by radix selection (two 16-bit histogram
passes, each ``O(n)``; a bisection over the 32 bits, as in the other common
approach, costs 32 passes):

  t = max { t : #{i : key_i >= t} >= k }.

Every entry with ``key > t`` is kept, and of the entries with ``key == t`` the
first ``k - #{key > t}`` in flattened (then pool) order are kept, so exactly
``k`` entries survive whatever the ties, and the result is deterministic. The
tie pass (a cumulative sum) runs only when the ties are ambiguous.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

_SIGN = 0x80000000


def order_keys(scores: jax.Array) -> jax.Array:
  """uint32 keys with the same order as the float32 scores (NaN -> -inf)."""
  x = jnp.asarray(scores, jnp.float32)
  x = jnp.where(jnp.isnan(x), -jnp.inf, x)
  x = jnp.where(x == 0, 0.0, x)  # -0.0 and +0.0 are the same score
  bits = lax.bitcast_convert_type(x, jnp.uint32)
  negative = (bits >> 31) == 1
  return jnp.where(negative, ~bits, bits | jnp.uint32(_SIGN))


def kth_largest_key(keys: Sequence[jax.Array], k: jax.Array) -> jax.Array:
  """The k-th largest key over all arrays in `keys`, without sorting.

  Radix selection in two passes of 16 bits: a histogram of the high halves
  finds the bucket holding the k-th largest key, a histogram of the low
  halves inside that bucket finds the key. Returns the largest ``t`` with
  ``#{key >= t} >= k``; for ``k <= 0`` the largest uint32, for ``k >= n``
  the smallest key present.
  """
  keys = [x.reshape(-1) for x in keys if x.size]
  if not keys:
    return jnp.uint32(0xFFFFFFFF)
  n = sum(x.size for x in keys)
  k = jnp.asarray(k, jnp.int32)
  kk = jnp.clip(k, 1, n)
  bins = 1 << 16

  def last_at_least(hist, k):
    # suffix[b] = #{digit >= b}; the answer is the last b with suffix >= k.
    suffix = jnp.cumsum(hist[::-1])[::-1]
    b = jnp.sum(suffix >= k, dtype=jnp.int32) - 1
    return b, suffix[b] - hist[b]   # digit, #{digit > b}

  def select(hist, k):
    # In two levels of 256 (a cumulative sum over 65,536 bins costs more
    # than the histogram on CPU): the block of 256 bins, then the bin.
    blocks = hist.reshape(256, 256)
    blk, above = last_at_least(blocks.sum(axis=1), k)
    b, above_in = last_at_least(blocks[blk], k - above)
    return blk * 256 + b, above + above_in

  high = [(x >> 16).astype(jnp.int32) for x in keys]
  hist = sum(jnp.bincount(h, length=bins) for h in high)
  b, above = select(hist, kk)
  # Low halves of the keys in bucket b; the others go to an ignored bin.
  low = [jnp.where(h == b, (x & 0xFFFF).astype(jnp.int32), bins)
         for h, x in zip(high, keys)]
  hist = sum(jnp.bincount(lw, length=bins + 1)[:bins] for lw in low)
  c, _ = select(hist, kk - above)
  t = (b.astype(jnp.uint32) << 16) | c.astype(jnp.uint32)
  return jnp.where(k <= 0, jnp.uint32(0xFFFFFFFF), t)


def topk_masks(keys: Sequence[jax.Array], k: jax.Array) -> list[jax.Array]:
  """Boolean masks keeping exactly ``min(k, n)`` largest keys over the pool.

  Args:
    keys: uint32 arrays from `order_keys` (one per layer of the pool).
    k: number of entries to keep over all arrays together (traced is fine).

  Returns:
    One boolean mask per array; ties at the threshold are kept in flattened
    order, earlier arrays first.
  """
  keys = list(keys)
  t = kth_largest_key(keys, k)
  gt = [x > t for x in keys]
  eq = [x == t for x in keys]
  need = jnp.asarray(k, jnp.int32) - sum(jnp.sum(g, dtype=jnp.int32) for g in gt)
  num_eq = sum(jnp.sum(e, dtype=jnp.int32) for e in eq)

  def break_ties(_):
    out, offset = [], jnp.int32(0)
    for e in eq:
      rank = jnp.cumsum(e.reshape(-1), dtype=jnp.int32).reshape(e.shape)
      out.append(e & (rank + offset <= need))
      offset = offset + jnp.sum(e, dtype=jnp.int32)
    return out

  def keep_all_ties(_):
    return [e & (need > 0) for e in eq]

  tie_masks = lax.cond(num_eq > need, break_ties, keep_all_ties, None)
  return [g | e for g, e in zip(gt, tie_masks)]


def topk_mask(scores: jax.Array, k: jax.Array) -> jax.Array:
  """Keeps exactly ``k`` of the largest entries of one score array."""
  return topk_masks([order_keys(scores)], k)[0]


def nm_mask(scores: jax.Array, n: int, m: int, axis: int = -1) -> jax.Array:
  """N:M mask: in each run of ``m`` entries along `axis` keep the ``n`` best.

  Groups are consecutive entries along `axis` (for a Dense kernel ``(in,
  out)`` and ``axis=0``, groups of ``m`` inputs of each output neuron, the
  layout sparse tensor cores use). Ties go to the lower index.

  Raises:
    ValueError: if ``m`` does not divide the axis or ``not 0 <= n <= m``.
  """
  check_nm(scores.shape, n, m, axis)
  keys = jnp.moveaxis(order_keys(scores), axis, -1)
  moved_shape = keys.shape
  groups = keys.reshape(-1, m)
  idx = jnp.arange(m)
  # beats[g, i, j]: entry j of group g outranks entry i.
  kj, ki = groups[:, None, :], groups[:, :, None]
  beats = (kj > ki) | ((kj == ki) & (idx[None, None, :] < idx[None, :, None]))
  rank = jnp.sum(beats, axis=-1)
  keep = (rank < n).reshape(moved_shape)
  return jnp.moveaxis(keep, -1, axis)


def check_nm(shape: Sequence[int], n: int, m: int, axis: int,
             name: str = 'array') -> None:
  """Raises ValueError unless an N:M mask fits `shape` along `axis`."""
  if not (isinstance(m, int) and m >= 1 and isinstance(n, int) and 0 <= n <= m):
    raise ValueError(f'N:M sparsity needs integers 0 <= N <= M, M >= 1; got '
                     f'N={n}, M={m}.')
  if not -len(shape) <= axis < len(shape):
    raise ValueError(f'N:M axis {axis} is out of range for {name} of shape '
                     f'{tuple(shape)}.')
  if shape[axis] % m:
    raise ValueError(f'N:M with M={m} does not divide axis {axis} of {name} '
                     f'(shape {tuple(shape)}, size {shape[axis]}).')
