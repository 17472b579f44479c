"""Sparsity-constrained training: projection (IHT) and sparsity penalties.

Constraint. ``min_w L(w)  s.t.  nnz(w_l) <= k_l`` per layer (or ``nnz(w) <=
k`` over all pruned layers with a global pool) is solved by projected
gradient descent, i.e. iterative hard thresholding (Blumensath & Davies
2009; Jin et al. 2016, "Training skinny deep neural networks with iterative
hard thresholding methods"):

  w_{t+1} = H_k(w_t - eta g_t),

where ``H_k`` keeps the ``k`` largest magnitudes. `projection` is `prune` with
the magnitude score, a mask recomputed after every update, and regrowth
allowed; `PruneState.max_kept` records the largest mask over all steps, so the
report shows ``nnz <= k`` held throughout, not only at the end.

Penalties (added to the loss through `Plugin.penalty`):

* `l1_penalty`: ``lam * sum_l sum_i |w_li|`` (lasso; Tibshirani 1996);
* `group_lasso_penalty`: ``lam * sum_l sum_j sqrt(size_j) ||W_l[..., j]||_2``
  over output neurons / filters ``j`` (Yuan & Lin 2006; Wen et al. 2016,
  "Learning structured sparsity in deep neural networks"), which drives whole
  neurons to zero.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

from jaxcompress.pruning import distributions, schedules, scores, transform


def projection(specs: Any, **kwargs) -> optax.GradientTransformation:
  """Projection onto ``nnz <= k`` after every update (IHT)."""
  return transform.prune(specs, scores.magnitude(1), schedules.EveryStep(),
                         allow_regrow=True, **kwargs)


def _selected(specs, params):
  return [p for s, p in zip(jax.tree.leaves(specs, is_leaf=distributions.is_spec),
                            jax.tree.leaves(params)) if s is not None]


def l1_penalty(specs: Any, coeff: float):
  """``params -> coeff * sum |w|`` over the layers `specs` prunes."""
  if coeff < 0:
    raise ValueError(f'L1 coefficient must be >= 0, got {coeff}.')

  def penalty(params):
    return coeff * sum(jnp.sum(jnp.abs(p)) for p in _selected(specs, params))
  return penalty


def group_lasso_penalty(specs: Any, coeff: float):
  """``params -> coeff * sum_j sqrt(n_j) ||w_j||_2`` over output units.

  A group is everything feeding one output unit: the last axis indexes the
  groups (Dense ``(in, out)``, Conv ``(h, w, in, out)``), ``n_j`` its size.
  The norm is made differentiable at zero with a tiny floor.
  """
  if coeff < 0:
    raise ValueError(f'group lasso coefficient must be >= 0, got {coeff}.')

  def penalty(params):
    total = 0.0
    for p in _selected(specs, params):
      if p.ndim < 2:
        continue
      sq = jnp.sum(jnp.square(p.reshape(-1, p.shape[-1])), axis=0)
      norms = jnp.sqrt(jnp.maximum(sq, 1e-20))
      total = total + jnp.sqrt(p.size / p.shape[-1]) * jnp.sum(norms)
    return coeff * total
  return penalty
