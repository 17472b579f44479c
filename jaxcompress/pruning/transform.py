"""Pruning as one optax transformation.

`prune` returns a GradientTransformation to put *last* in an `optax.chain`
after any optimizer. It needs the parameters in `update` and returns

  updates' = where(m, u, -w),

so that `optax.apply_updates` gives ``w + updates' = m * (w + u)`` (kept
weights get the optimizer's update untouched; ``w + (-w)`` is exactly 0 in
IEEE arithmetic): pruned weights are exactly zero after every step whatever the optimizer did to them
(momentum, Adam moments, decoupled weight decay all act inside ``u``), and one
call to `apply_updates` is all a training loop needs.

Masks, the step counter, a PRNG key, the rewinding snapshot, the score's own
state and the largest number of kept weights seen per layer live in
`PruneState`, a NamedTuple, so checkpointing and sharding need nothing
special. Scores that learn from gradients (movement pruning) read the raw
gradients of each step, which the train step passes as an extra argument:
``tx.update(updates, state, params, grads=grads)`` (`optax.chain` forwards
it). Masks are recomputed inside
the compiled step under ``lax.cond`` on the schedule, never by retracing:

  at step t, if schedule(t).update:  m <- mask_fn(score(w, w + u), target(t))

The four pieces are independent: the score (`scores`), the mask type and
per-layer targets (`distributions.layer_specs`), and the schedule
(`schedules`).

Example:

  >>> import jax.numpy as jnp, optax
  >>> from jaxcompress.pruning import distributions, schedules, transform
  >>> params = {'w': jnp.array([[1., -3.], [0.5, 2.]]), 'b': jnp.ones(2)}
  >>> specs = distributions.layer_specs(params, 0.5)
  >>> tx = optax.chain(optax.sgd(0.1),
  ...                  transform.prune(specs, schedule=schedules.OneShot(0)))
  >>> state = tx.init(params)
  >>> grads = jax.tree.map(jnp.zeros_like, params)
  >>> updates, state = tx.update(grads, state, params)
  >>> optax.apply_updates(params, updates)['w']
  Array([[ 0., -3.],
         [ 0.,  2.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from jaxcompress.pruning import distributions
from jaxcompress.pruning import masks as masks_lib
from jaxcompress.pruning import schedules as schedules_lib
from jaxcompress.pruning import scores as scores_lib

is_spec = distributions.is_spec


class PruneState(NamedTuple):
  """State of `prune`.

  Attributes:
    count: number of updates applied so far (int32).
    masks: a bool array per pruned parameter, a bool scalar True per dense
      one (so the tree has the parameters' structure).
    key: PRNG key data for random scores.
    rewind: the parameters at the start of step `rewind_step` (lottery
      tickets), or None.
    max_kept: per pruned parameter, the largest number of kept entries of
      any mask applied so far (int32; -1 for dense parameters). Masked
      entries are exactly zero, so this bounds nnz(w) at every step of
      training.
    score_state: the score's own state (`scores.Score.init`), e.g. the
      accumulated movement; ``()`` for stateless scores.
  """
  count: jax.Array
  masks: Any
  key: jax.Array
  rewind: Any
  max_kept: Any
  score_state: Any = ()


def _num_pruned(frac: jax.Array, final: int) -> jax.Array:
  """round(frac * final) exactly; `final` itself when frac >= 1."""
  val = jnp.floor(frac * final + 0.5).astype(jnp.int32)
  return jnp.clip(jnp.where(frac >= 1.0, final, val), 0, final)


def compute_masks(specs: Any, scores: Any, weights: Any, old_masks: Any,
                  frac: jax.Array, allow_regrow: bool = False) -> Any:
  """New masks for every pruned leaf at `frac` of the final sparsity.

  Args:
    specs: spec tree (`distributions.layer_specs`).
    scores: score pytree shaped like the parameters.
    weights: the weights being masked (for Han's std rule).
    old_masks: current masks; unless `allow_regrow`, pruned entries stay
      pruned (their score is -inf).
    frac: fraction of the final sparsity to reach (traced).
    allow_regrow: let pruned entries come back (projection / IHT).

  Returns:
    Masks with the structure of `old_masks`.
  """
  spec_l = jax.tree.leaves(specs, is_leaf=is_spec)
  score_l = jax.tree.leaves(scores)
  w_l = jax.tree.leaves(weights)
  old_l, treedef = jax.tree.flatten(old_masks)
  out = list(old_l)
  pool = []
  for i, spec in enumerate(spec_l):
    if spec is None:
      continue
    old = old_l[i]
    alive = jnp.ones(w_l[i].shape, bool) if allow_regrow else old
    s = jnp.where(alive, score_l[i], -jnp.inf)
    if spec.nm is not None:
      n, m, axis = spec.nm
      out[i] = jnp.where(frac > 0, masks_lib.nm_mask(s, n, m, axis), old)
    elif spec.quality is not None:
      # Han et al. 2015: remove |w| < quality * std(layer's surviving weights).
      w = w_l[i].astype(jnp.float32)
      cnt = jnp.maximum(jnp.sum(alive), 1)
      mean = jnp.sum(jnp.where(alive, w, 0)) / cnt
      std = jnp.sqrt(jnp.sum(jnp.where(alive, (w - mean) ** 2, 0)) / cnt)
      out[i] = alive & (jnp.abs(w) >= spec.quality * std)
    elif spec.pool:
      pool.append((i, masks_lib.order_keys(s)))
    else:
      k = int(np.prod(old.shape)) - _num_pruned(frac, spec.num_pruned)
      out[i] = masks_lib.topk_masks([masks_lib.order_keys(s)], k)[0]
  if pool:
    size = sum(int(np.prod(keys.shape)) for _, keys in pool)
    k = size - _num_pruned(frac, spec_l[pool[0][0]].num_pruned)
    for (i, _), m in zip(pool, masks_lib.topk_masks([x for _, x in pool], k)):
      out[i] = m
  return jax.tree.unflatten(treedef, out)


def _check(specs, params, initial_masks):
  spec_l, spec_def = jax.tree.flatten(specs, is_leaf=is_spec)
  leaves, treedef = jax.tree.flatten(params)
  if len(spec_l) != len(leaves):
    raise ValueError(f'prune: the spec tree has {len(spec_l)} leaves, the '
                     f'parameters {len(leaves)}; build specs from these '
                     f'parameters. specs: {spec_def}, params: {treedef}')
  for s, x in zip(spec_l, leaves):
    if s is not None and s.nm is not None:
      masks_lib.check_nm(jnp.shape(x), s.nm[0], s.nm[1], s.nm[2])
  if initial_masks is not None:
    for s, x, m in zip(spec_l, leaves, jax.tree.leaves(initial_masks)):
      if s is not None and jnp.shape(m) != jnp.shape(x):
        raise ValueError(f'initial mask of shape {jnp.shape(m)} for a '
                         f'parameter of shape {jnp.shape(x)}.')


def prune(specs: Any,
          score_fn: scores_lib.Score | scores_lib.ScoreFn | None = None,
          schedule: schedules_lib.Schedule | None = None, *,
          allow_regrow: bool = False, seed: int = 0,
          initial_masks: Any = None, reset_params: Any = None,
          rewind_step: int | None = None
          ) -> optax.GradientTransformationExtraArgs:
  """A GradientTransformation that keeps parameters exactly masked.

  Args:
    specs: per-leaf `LayerSpec` or None (`distributions.layer_specs`).
    score_fn: importance scores, a `scores.Score` or a plain function
      ``(params, new_params, key) -> scores``; default L1 magnitude.
    schedule: when masks change (`schedules`); default one-shot at step 0.
    allow_regrow: recompute masks over all entries (iterative hard
      thresholding); by default pruned entries stay pruned.
    seed: PRNG seed for random scores.
    initial_masks: masks to start from (pytree of bools like the params;
      dense leaves may be anything); default all ones.
    reset_params: if given, the first update replaces the parameters by
      ``mask * reset_params`` (the gradient of step 0 is dropped): lottery
      ticket rewinding and random re-initialization. Up to float rounding
      of ``w + (r - w)``.
    rewind_step: if given, `PruneState.rewind` holds the parameters at the
      start of this step.

  Returns:
    An `optax.GradientTransformationExtraArgs`; `update` must receive
    `params`, and `grads=` (the raw gradients) when the score learns from
    them.

  Raises:
    ValueError: at `init`, if specs and parameters disagree; at `update`,
      if `params` is missing, or `grads` for a score that needs them.
  """
  score = scores_lib.as_score(score_fn or scores_lib.magnitude(1))
  schedule = schedule or schedules_lib.OneShot(0)
  if rewind_step is not None and rewind_step < 0:
    raise ValueError(f'rewind_step must be >= 0, got {rewind_step}.')
  with jax.ensure_compile_time_eval():
    # If the first update recomputes the masks, the initial ones are never
    # applied to the parameters and do not count in `max_kept`.
    first_update = bool(schedule(jnp.zeros((), jnp.int32))[0])

  def init_fn(params):
    _check(specs, params, initial_masks)
    def mask0(spec, p, m=None):
      if spec is None:
        return jnp.ones((), bool)
      return (jnp.ones(jnp.shape(p), bool) if m is None
              else jnp.asarray(m, bool))
    if initial_masks is None:
      masks = jax.tree.map(mask0, specs, params, is_leaf=is_spec)
    else:
      masks = jax.tree.map(mask0, specs, params, initial_masks,
                           is_leaf=is_spec)
    kept = jax.tree.map(
        lambda s, m: jnp.int32(-1) if s is None else (
            jnp.int32(0) if first_update else jnp.sum(m, dtype=jnp.int32)),
        specs, masks, is_leaf=is_spec)
    rewind = (None if rewind_step is None
              else jax.tree.map(jnp.asarray, params))
    return PruneState(jnp.zeros((), jnp.int32), masks,
                      jax.random.key_data(jax.random.key(seed)), rewind, kept,
                      score.init(params))

  def update_fn(updates, state, params=None, **extra_args):
    if params is None:
      raise ValueError('prune needs the parameters: call '
                       'tx.update(updates, state, params).')
    count = state.count
    score_state = state.score_state
    if score.update is not None:
      grads = extra_args.get('grads')
      if grads is None:
        raise ValueError('This pruning score learns from the raw gradients: '
                         'call tx.update(updates, state, params, '
                         'grads=grads).')
      score_state = score.update(score_state, params, grads)
    if reset_params is not None:
      # Lottery rewinding: step 0 replaces the weights by the reset ones.
      updates = jax.tree.map(
          lambda u, p, r: jnp.where(count == 0, r - p, u).astype(u.dtype),
          updates, params, reset_params)
    update, frac = schedule(count)
    key, sub = jax.random.split(jax.random.wrap_key_data(state.key))

    def recompute(args):
      masks, kept = args
      new = jax.tree.map(lambda p, u: p + u, params, updates)
      scores = score.compute(score_state, params, new, sub)
      masks = compute_masks(specs, scores, new, masks, frac, allow_regrow)
      kept = jax.tree.map(
          lambda s, k, m: k if s is None else jnp.maximum(
              k, jnp.sum(m, dtype=jnp.int32)), specs, kept, masks,
          is_leaf=is_spec)
      return masks, kept

    masks, kept = lax.cond(update, recompute, lambda a: a,
                           (state.masks, state.max_kept))

    # Kept entries get the optimizer's update untouched (w + u, as without
    # pruning); pruned ones get -w, and w + (-w) is exactly 0 in IEEE floats.
    def out(spec, m, p, u):
      if spec is None:
        return u
      return jnp.where(m, u, -p.astype(u.dtype))
    updates = jax.tree.map(out, specs, masks, params, updates,
                           is_leaf=is_spec)
    rewind = state.rewind
    if rewind_step is not None:
      rewind = lax.cond(count == rewind_step, lambda: params, lambda: rewind)
    return updates, PruneState(count + 1, masks, jax.random.key_data(key),
                               rewind, kept, score_state)

  return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def apply_masks(params: Any, masks: Any) -> Any:
  """``m * w`` leaf by leaf (dense leaves have a scalar True mask)."""
  return jax.tree.map(lambda p, m: jnp.where(m, p, jnp.zeros_like(p)),
                      params, masks)


def find_state(tree: Any) -> PruneState | None:
  """The first `PruneState` inside an optimizer or train state, or None."""
  found = [x for x in jax.tree.leaves(
      tree, is_leaf=lambda x: isinstance(x, PruneState))
           if isinstance(x, PruneState)]
  return found[0] if found else None
