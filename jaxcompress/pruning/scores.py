"""Importance scores: higher means keep.

A score is a `Score`, three pure functions in the style of optax:

  state = score.init(params)
  state = score.update(state, params, grads)     # every train step
  s     = score.compute(state, params, new_params, key)

`update` sees the raw gradients of every step, so scores that accumulate
over training (movement pruning, `jaxcompress.pruning.movement`) keep their
sums in `state`, which lives in `PruneState` like the masks. `update` is None
for scores that need no gradients and keep no state. In `compute`, `params`
are the weights the current step's gradient was taken at, `new_params` the
weights after this step's update (the ones the mask is applied to), `key` a
PRNG key; scores come back as a pytree shaped like the parameters. A plain
function ``fn(params, new_params, key) -> scores`` is accepted wherever a
score is (`as_score` wraps it).

* `magnitude(ord=1)`: ``|w|`` (L1) or ``w^2`` (L2) of the new weights (Han et
  al. 2015; Zhu & Gupta 2017). Both rank a layer the same way; with a global
  threshold they also agree, they are offered because configs name them.
* `random()`: i.i.d. uniform scores, the control every paper compares with.
* `saliency(loss, images, labels, ...)`: ``sum_b |w * dL_b/dw|`` accumulated
  over `num_batches` fixed batches, the first-order estimate of the loss change
  when a weight is removed (Mozer & Smolensky 1989; Molchanov et al. 2017).
* `snip(...)`: the connection sensitivity of Lee et al. 2019, "SNIP:
  single-shot network pruning based on connection sensitivity",
  ``s_j = |g_j w_j| / sum_k |g_k w_k|`` on one batch at initialization (the
  normalization does not change the ranking, so it is `saliency` on one batch
  at step 0).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

ScoreFn = Callable[[Any, Any, jax.Array], Any]


class Score(NamedTuple):
  """An importance score (see the module docstring).

  Attributes:
    init: ``params -> state`` (any pytree; ``()`` for stateless scores).
    update: ``(state, params, grads) -> state`` called at every step with
      the raw gradients, or None when the score needs neither.
    compute: ``(state, params, new_params, key) -> scores``.
  """
  init: Callable[[Any], Any]
  update: Callable[[Any, Any, Any], Any] | None
  compute: Callable[[Any, Any, Any, jax.Array], Any]


def stateless(fn: ScoreFn) -> Score:
  """A `Score` from ``fn(params, new_params, key) -> scores``."""
  return Score(init=lambda params: (), update=None,
               compute=lambda state, params, new, key: fn(params, new, key))


def as_score(score: Score | ScoreFn) -> Score:
  """`score` itself, or a plain score function wrapped by `stateless`."""
  if isinstance(score, Score):
    return score
  if not callable(score):
    raise ValueError(f'A pruning score must be a Score or a function '
                     f'(params, new_params, key) -> scores, got {score!r}')
  return stateless(score)


def magnitude(ord: int = 1) -> Score:  # noqa: A002  (numpy's name)
  """``|w|`` for ``ord=1``, ``w^2`` for ``ord=2``, of the updated weights."""
  if ord not in (1, 2):
    raise ValueError(f'magnitude score ord must be 1 or 2, got {ord}.')

  def score_fn(params, new_params, key):
    del params, key
    if ord == 1:
      return jax.tree.map(jnp.abs, new_params)
    return jax.tree.map(jnp.square, new_params)
  return stateless(score_fn)


def random() -> Score:
  """Uniform random scores (a fresh draw at every mask update)."""

  def score_fn(params, new_params, key):
    del params
    leaves, treedef = jax.tree.flatten(new_params)
    keys = jax.random.split(key, max(len(leaves), 1))
    return jax.tree.unflatten(treedef, [
        jax.random.uniform(k, jnp.shape(x)) for k, x in zip(keys, leaves)])
  return stateless(score_fn)


def saliency(loss: Callable[..., jax.Array], images: np.ndarray,
             labels: np.ndarray, batch_size: int = 100,
             num_batches: int = 1, seed: int = 0) -> Score:
  """``sum_b |w * grad_w loss_b(w)|`` over fixed batches of the train set.

  Args:
    loss: ``(params, images, labels) -> scalar`` (`Context.loss`).
    images, labels: the training set; `num_batches` batches of `batch_size`
      examples are drawn once (with `seed`) and kept as constants.
    batch_size, num_batches: how much data the scores see.
    seed: which examples.

  The gradient is taken at `params`, the weights the step started from (at
  step 0: the initialization, as SNIP requires).
  """
  if batch_size < 1 or num_batches < 1:
    raise ValueError(f'saliency needs batch_size and num_batches >= 1, got '
                     f'{batch_size}, {num_batches}.')
  n = batch_size * num_batches
  if n > len(images):
    raise ValueError(f'saliency asks for {n} examples, the set has '
                     f'{len(images)}.')
  idx = np.random.default_rng(seed).permutation(len(images))[:n]
  xs = np.asarray(images[idx]).reshape(num_batches, batch_size,
                                       *images.shape[1:])
  ys = np.asarray(labels[idx]).reshape(num_batches, batch_size)

  def score_fn(params, new_params, key):
    del new_params, key

    def body(acc, batch):
      g = jax.grad(loss)(params, *batch)
      return jax.tree.map(lambda a, w, gi: a + jnp.abs(w * gi), acc, params,
                          g), None
    zeros = jax.tree.map(jnp.zeros_like, params)
    acc, _ = jax.lax.scan(body, zeros, (jnp.asarray(xs), jnp.asarray(ys)))
    return acc
  return stateless(score_fn)


def snip(loss: Callable[..., jax.Array], images: np.ndarray,
         labels: np.ndarray, batch_size: int = 100, seed: int = 0) -> Score:
  """SNIP connection sensitivity: `saliency` on one batch (use at step 0)."""
  return saliency(loss, images, labels, batch_size, 1, seed)
