"""Which parameters are pruned, to what sparsity, with what mask type.

The result is a *spec tree*: one `LayerSpec` (or None = stays dense) per
parameter leaf, computed once in Python from shapes, before anything compiles.

Distributions of a total sparsity ``s`` over the prunable layers:

* ``'uniform'``: every layer at ``s``.
* ``'global'``: the layers form one pool with one threshold on the scores;
  exactly ``round(s * N)`` of the pool's ``N`` weights are removed, and how
  many come from each layer is decided by the scores (Han et al. 2015 use per
  layer thresholds; SNIP, Lee et al. 2019, uses a global one).
* ``'erk'``: Erdos-Renyi-Kernel of Evci et al. 2020 (RigL), density of a
  layer proportional to ``sum(shape) / prod(shape)``, scaled so the total
  density is ``1 - s``; layers that would exceed density 1 are kept dense and
  the rest rescaled.
* ``'std'``: Han et al. 2015's rule: at each pruning step remove the weights
  with ``|w| < quality * std(surviving weights of the layer)``; the value
  given is the quality parameter, not a sparsity.

Per-layer overrides are ``(regex, value)`` rules over '/'-joined parameter
paths (`jaxcompress.rules`): the first match wins, ``None`` keeps the layer
dense, a float is the layer's own sparsity (its quality under ``'std'``), and
a rule that matches nothing raises. Without a rule, parameters with fewer than
`min_ndim` dimensions (biases, normalization scales and offsets) stay dense.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from jaxcompress import rules as rules_lib
from jaxcompress.pruning import masks as masks_lib

DISTRIBUTIONS = ('uniform', 'global', 'erk', 'std')
_DEFAULT = object()


@dataclasses.dataclass(frozen=True)
class LayerSpec:
  """How one parameter is pruned (a static leaf of the spec tree).

  Attributes:
    sparsity: final fraction of entries removed, in [0, 1).
    num_pruned: exact number of entries removed at the final sparsity,
      ``round(sparsity * size)``; for a pooled layer the count for the whole
      pool, ``round(sparsity * pool size)``.
    pool: the layer shares the global threshold with the other pooled ones.
    nm: ``(n, m, axis)`` for an N:M mask, else None.
    quality: Han's quality parameter for the 'std' rule, else None.
  """
  sparsity: float
  num_pruned: int
  pool: bool = False
  nm: tuple[int, int, int] | None = None
  quality: float | None = None


def is_spec(x: Any) -> bool:
  return x is None or isinstance(x, LayerSpec)


def check_sparsity(s: Any, what: str = 'sparsity') -> float:
  """Returns `s` as a float, or raises ValueError unless it lies in [0, 1)."""
  try:
    s = float(s)
  except (TypeError, ValueError) as e:
    raise ValueError(f'{what} must be a number in [0, 1), got {s!r}.') from e
  if not 0.0 <= s < 1.0 or math.isnan(s):
    raise ValueError(f'{what} must lie in [0, 1), got {s}.')
  return s


def erk_densities(shapes: Sequence[Sequence[int]], sparsity: float,
                  ) -> list[float]:
  """Erdos-Renyi-Kernel densities with total density ``1 - sparsity``."""
  sizes = [int(np.prod(s)) for s in shapes]
  raw = [sum(s) / np.prod(s) for s in shapes]
  budget = (1.0 - sparsity) * sum(sizes)
  dense = set()
  while True:
    free = [i for i in range(len(shapes)) if i not in dense]
    rest = budget - sum(sizes[i] for i in dense)
    denom = sum(raw[i] * sizes[i] for i in free)
    eps = rest / denom if denom else 0.0
    over = [i for i in free if eps * raw[i] > 1.0]
    if not over:
      break
    dense.update(over)
  return [1.0 if i in dense else eps * raw[i] for i in range(len(shapes))]


def layer_specs(params: Any, sparsity: float, distribution: str = 'uniform',
                rules: rules_lib.Rules = (), mask_type: str = 'unstructured',
                nm: tuple[int, int] = (2, 4), nm_axis: int = 0,
                min_ndim: int = 2) -> Any:
  """The spec tree for `params`.

  Args:
    params: parameter pytree (or a tree of ShapeDtypeStructs).
    sparsity: total target sparsity in [0, 1) (the quality parameter for
      ``distribution='std'``, any value >= 0).
    distribution: one of DISTRIBUTIONS.
    rules: ``(regex, value)`` per-layer overrides, value a float or None.
    mask_type: 'unstructured' or 'nm'; with 'nm' every pruned layer gets an
      ``nm = (N, M)`` mask along `nm_axis` (sparsity ``1 - N/M``) and the
      distribution is ignored.
    nm, nm_axis: N:M parameters.
    min_ndim: parameters with fewer dims stay dense unless a rule says
      otherwise.

  Returns:
    A pytree like `params` with a `LayerSpec` or None per leaf.

  Raises:
    ValueError: bad sparsity or distribution, a rule matching no parameter,
      an N:M that does not fit a layer.
  """
  if distribution not in DISTRIBUTIONS:
    raise ValueError(f'Unknown distribution {distribution!r}; known: '
                     f'{DISTRIBUTIONS}.')
  if mask_type not in ('unstructured', 'nm'):
    raise ValueError(f"Unknown mask type {mask_type!r}; known: "
                     f"('unstructured', 'nm').")
  quality_mode = distribution == 'std'
  if quality_mode:
    if not float(sparsity) >= 0:
      raise ValueError(f'std rule quality must be >= 0, got {sparsity}.')
  else:
    sparsity = check_sparsity(sparsity)
  for pattern, value in rules:
    if value is not None and not quality_mode:
      check_sparsity(value, f'sparsity of rule {pattern!r}')
  chosen = rules_lib.apply_rules(params, rules, default=_DEFAULT)
  names = [n for n, _ in rules_lib.named_leaves(params)]
  leaves, treedef = jax.tree.flatten(params)
  settings = jax.tree.leaves(chosen, is_leaf=lambda x: x is None)
  assert len(settings) == len(leaves)

  specs: list[LayerSpec | None] = [None] * len(leaves)
  default_idx = []
  for i, (leaf, value) in enumerate(zip(leaves, settings)):
    shape, size = tuple(leaf.shape), int(np.prod(leaf.shape))
    if value is _DEFAULT:
      if len(shape) < min_ndim:
        continue
      default_idx.append(i)
    elif value is not None:
      specs[i] = _spec(shape, size, float(value), quality_mode, pool=False)

  if mask_type == 'nm':
    n, m = (int(v) for v in nm)
    masks_lib.check_nm((m,), n, m, -1)  # validates N and M alone
    for i in default_idx + [j for j, s in enumerate(specs) if s]:
      shape = tuple(leaves[i].shape)
      masks_lib.check_nm(shape, n, m, nm_axis, names[i])
      s = 1.0 - n / m
      specs[i] = LayerSpec(s, round(s * int(np.prod(shape))),
                           nm=(n, m, nm_axis))
    return jax.tree.unflatten(treedef, specs)

  if distribution == 'erk' and default_idx:
    dens = erk_densities([leaves[i].shape for i in default_idx], sparsity)
    for i, d in zip(default_idx, dens):
      size = int(np.prod(leaves[i].shape))
      specs[i] = _spec(leaves[i].shape, size, min(max(1.0 - d, 0.0), 1.0),
                       False, pool=False)
  else:
    for i in default_idx:
      size = int(np.prod(leaves[i].shape))
      specs[i] = _spec(leaves[i].shape, size, sparsity, quality_mode,
                       pool=distribution == 'global')
  if distribution == 'global' and default_idx:
    pool_size = sum(int(np.prod(leaves[i].shape)) for i in default_idx)
    total = int(round(sparsity * pool_size))
    for i in default_idx:
      specs[i] = dataclasses.replace(specs[i], num_pruned=total)
  return jax.tree.unflatten(treedef, specs)


def _spec(shape, size, value, quality_mode, pool):
  if quality_mode:
    return LayerSpec(0.0, 0, quality=float(value))
  value = min(value, 1.0)
  return LayerSpec(value, int(round(value * size)), pool=pool)
