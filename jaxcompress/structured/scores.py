"""Importance of whole units (neurons, channels, filters); higher = keep.

A score function maps the trainable ``params`` to ``{group name: f32[size]}``
and is pure jnp, so `structured_mask` can call it inside the jitted step.

* `weight_norm(graph, ord)`: ``||W[..., c]||_ord`` summed over the group's
  producers: L1 of a filter (Li et al. 2017, "Pruning Filters for Efficient
  ConvNets") or L2 of a neuron's incoming weights. Groups without producing
  weights (the ``'input'`` pixels) use the weights that read them instead.
* `bn_scale(graph)`: ``|gamma_c|`` summed over the group's batch norms
  (Liu et al. 2017, "Learning Efficient Convolutional Networks through Network
  Slimming"); train with `slimming.bn_scale_penalty` to make it sparse.
* `activation(...)`: a statistic of the unit's activation on a fixed batch of
  real data (`stats.activation_stats`): ``'mean'``, ``'mean_abs'``, or
  ``'apoz'`` scored as ``-APoZ`` (Hu et al. 2016: units that are mostly zero
  go first).
* `taylor(...)`: ``|activation x gradient|`` (Molchanov et al. 2017).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcompress.structured import stats as stats_lib
from jaxcompress.structured.graph import Graph, Member

__all__ = ['SCORES', 'ScoreFn', 'weight_norm', 'bn_scale', 'activation',
           'taylor', 'make_score']

ScoreFn = Callable[[Any], dict[str, jax.Array]]
SCORES = ('l1', 'l2', 'bn_scale', 'mean', 'mean_abs', 'apoz', 'taylor')


def get_leaf(params: Any, path: str) -> jax.Array:
  """The leaf of a params tree at a graph path ('params/fc1/kernel')."""
  parts = path.split('/')
  if parts[0] == 'params':
    parts = parts[1:]
  x = params
  for p in parts:
    x = x[p]
  return x


def _per_unit(x: jax.Array, m: Member, size: int, fn) -> jax.Array:
  """Reduces every axis but the member's with `fn`, folded per channel."""
  x = jnp.moveaxis(x, m.axis, 0).reshape(x.shape[m.axis], -1)
  x = x.reshape(m.outer, size, m.inner, -1)
  return fn(jnp.moveaxis(x, 1, 0).reshape(size, -1))


def weight_norm(graph: Graph, ord: int = 1,  # pylint: disable=redefined-builtin
                groups: Sequence[str] | None = None) -> ScoreFn:
  """L1 (``ord=1``) or L2 (``ord=2``) norm of each unit's producing weights."""
  if ord not in (1, 2):
    raise ValueError(f'weight_norm ord must be 1 or 2, got {ord}')
  gs = [graph[n] for n in groups] if groups else list(graph.prunable)
  red = ((lambda v: jnp.sum(jnp.abs(v), axis=1)) if ord == 1 else
         (lambda v: jnp.sqrt(jnp.sum(v * v, axis=1))))

  def score(params):
    return {g.name: sum(_per_unit(get_leaf(params, m.path), m, g.size, red)
                        for m in (g.producers or g.consumers)) for g in gs}
  return score


def bn_scale_members(graph: Graph, groups: Sequence[str] | None = None
                     ) -> dict[str, list[Member]]:
  """The batch-norm scale vectors of each group (params paths ending 'scale')."""
  gs = [graph[n] for n in groups] if groups else list(graph.prunable)
  out = {}
  for g in gs:
    ms = [m for m in g.members
          if m.path.startswith('params/') and m.path.endswith('/scale')
          and m.role == 'elementwise']
    if not ms:
      raise ValueError(f'Layer {g.name!r} has no batch-norm scale to score')
    out[g.name] = ms
  return out


def bn_scale(graph: Graph, groups: Sequence[str] | None = None) -> ScoreFn:
  """``|gamma|`` of the group's batch norms (summed over coupled norms)."""
  members = bn_scale_members(graph, groups)

  def score(params):
    return {name: sum(jnp.abs(get_leaf(params, m.path)) for m in ms)
            for name, ms in members.items()}
  return score


def activation(model: nn.Module, graph: Graph, images: jax.Array,
               stat: str = 'apoz', batch_stats: Any = None,
               groups: Sequence[str] | None = None) -> ScoreFn:
  """A statistic of each unit's activations on the fixed batch `images`.

  With batch norm, the batch's own statistics are used (train mode).
  """
  if stat not in stats_lib.STAT_NAMES:
    raise ValueError(f'Unknown activation statistic {stat!r}; known: '
                     f'{stats_lib.STAT_NAMES}')
  sign = -1.0 if stat == 'apoz' else 1.0

  def score(params):
    variables = {'params': params}
    if batch_stats is not None:
      variables['batch_stats'] = batch_stats
    s = stats_lib.activation_stats(model, variables, graph, images,
                                   list(groups) if groups else None,
                                   use_batch_stats=batch_stats is not None)
    return {k: sign * v[stat] for k, v in s.items()}
  return score


def taylor(model: nn.Module, graph: Graph, images: jax.Array,
           labels: jax.Array, batch_stats: Any = None,
           groups: Sequence[str] | None = None) -> ScoreFn:
  """``|activation x gradient|`` on the fixed batch (`images`, `labels`)."""

  def score(params):
    variables = {'params': params}
    if batch_stats is not None:
      variables['batch_stats'] = batch_stats
    return stats_lib.taylor_scores(model, variables, graph, images, labels,
                                   groups=list(groups) if groups else None,
                                   use_batch_stats=batch_stats is not None)
  return score


def make_score(name: str, graph: Graph, model: nn.Module | None = None,
               images: jax.Array | None = None,
               labels: jax.Array | None = None, batch_stats: Any = None,
               groups: Sequence[str] | None = None) -> ScoreFn:
  """The score named `name` (one of `SCORES`)."""
  if name == 'l1':
    return weight_norm(graph, 1, groups)
  if name == 'l2':
    return weight_norm(graph, 2, groups)
  if name == 'bn_scale':
    return bn_scale(graph, groups)
  if name in stats_lib.STAT_NAMES:
    return activation(model, graph, images, name, batch_stats, groups)
  if name == 'taylor':
    return taylor(model, graph, images, labels, batch_stats, groups)
  raise ValueError(f'Unknown structured score {name!r}; known: {SCORES}')
