"""Per-unit activation statistics from real data, by method interception.

The model code is untouched: `flax.linen.intercept_methods` catches the call
of every layer that *reads* a group (its consumers, found by
`graph.trace_groups`) and records the input it receives. That input is what a
unit contributes to the rest of the network (after ReLU, pooling, batch
norm), folded per channel with the group's tiling (a flattened NHWC map gives
each channel its ``H*W`` positions).

Per unit ``c`` over examples ``n`` and positions ``p``:

* mean activation ``(1/NP) sum a[n, p, c]``,
* mean absolute activation ``(1/NP) sum |a[n, p, c]|``,
* APoZ, the average percentage of zeros (Hu et al. 2016, "Network Trimming"):
  ``(1/NP) sum [a[n, p, c] == 0]`` -- the share of zeros after ReLU,
* Taylor (Molchanov et al. 2017, "Pruning Convolutional Neural Networks for
  Resource Efficient Inference"): ``(1/N) sum_n |(1/P) sum_p a g|`` with
  ``g = dL/da``, the first-order change of the loss when the unit is removed.
  The gradient with respect to the intercepted input is taken by adding a
  zero perturbation to it and differentiating with respect to the
  perturbation.

Everything is jnp code over a fixed batch, so it can run inside a jitted
train step (the mask transformation recomputes scores at its update steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxcompress.structured.graph import Graph, Group, Member

__all__ = ['STAT_NAMES', 'activation_stats', 'taylor_scores']

STAT_NAMES = ('mean', 'mean_abs', 'apoz')


def _consumer(g: Group) -> Member:
  if not g.consumers:
    raise ValueError(f'Layer {g.name!r}: no layer reads its units, so it has '
                     'no activation statistics')
  return g.consumers[0]


def _module_path(m: Member) -> str:
  return m.layer


def _fold(x: jax.Array, m: Member, size: int) -> jax.Array:
  """(B, ..., outer*size*inner) -> (B, positions, size)."""
  b = x.shape[0]
  x = x.reshape(b, -1, m.outer, size, m.inner)
  x = jnp.moveaxis(x, 3, -1)
  return x.reshape(b, -1, size)


def _apply(model: nn.Module, variables: Any, images: jax.Array,
           perturb: dict[str, jax.Array] | None, record: dict,
           use_batch_stats: bool = False):
  """Runs the model, recording (and perturbing) the inputs of consumers."""
  wanted = set(record)

  def interceptor(next_fun, args, kwargs, context):
    path = '/'.join(context.module.path)
    if context.method_name == '__call__' and path in wanted and args:
      x = args[0]
      if perturb is not None:
        x = x + perturb[path]
      record[path] = x
      args = (x,) + tuple(args[1:])
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(interceptor):
    if use_batch_stats and 'batch_stats' in variables:
      # Normalise by the statistics of this batch (train mode): running
      # averages are not visible inside an optimizer step.
      logits, _ = model.apply(variables, images, train=True,
                              mutable=['batch_stats'])
      return logits
    return model.apply(variables, images, train=False)


def activation_stats(model: nn.Module, variables: Any, graph: Graph,
                     images: jax.Array, groups: list[str] | None = None,
                     use_batch_stats: bool = False
                     ) -> dict[str, dict[str, jax.Array]]:
  """Mean, mean absolute activation and APoZ per unit of each group.

  Args:
    model: the module.
    variables: its variables.
    graph: its groups (`trace_groups`).
    images: a batch of real inputs.
    groups: names of the groups to measure (default: every prunable group).
    use_batch_stats: batch norm uses the statistics of `images` (train mode)
      instead of the running averages.

  Returns:
    {group name: {'mean', 'mean_abs', 'apoz'}: f32[size]}.
  """
  gs = [graph[n] for n in groups] if groups else list(graph.prunable)
  members = {g.name: _consumer(g) for g in gs}
  record = {_module_path(m): None for m in members.values()}
  _apply(model, variables, images, None, record, use_batch_stats)
  out = {}
  for g in gs:
    m = members[g.name]
    a = _fold(record[_module_path(m)], m, g.size)
    out[g.name] = {
        'mean': jnp.mean(a, axis=(0, 1)),
        'mean_abs': jnp.mean(jnp.abs(a), axis=(0, 1)),
        'apoz': jnp.mean((a == 0).astype(jnp.float32), axis=(0, 1)),
    }
  return out


def taylor_scores(model: nn.Module, variables: Any, graph: Graph,
                  images: jax.Array, labels: jax.Array,
                  loss_fn: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
                  groups: list[str] | None = None,
                  use_batch_stats: bool = False) -> dict[str, jax.Array]:
  """First-order Taylor importance |activation x gradient| per unit.

  Args:
    model, variables, graph: as in `activation_stats`.
    images, labels: a batch of real data.
    loss_fn: ``(logits, labels) -> scalar``; default mean cross-entropy.
    groups: names of the groups to score (default: every prunable group).

  Returns:
    {group name: f32[size]}; all consumers of a group are summed (they read
    the same tensor, so their gradients add).
  """
  gs = [graph[n] for n in groups] if groups else list(graph.prunable)
  if loss_fn is None:
    loss_fn = lambda logits, y: jnp.mean(
        optax.softmax_cross_entropy_with_integer_labels(logits, y))
  paths = sorted({m.layer for g in gs for m in g.consumers})
  def capture(perturb):
    record = {p: None for p in paths}
    logits = _apply(model, variables, images, perturb, record, use_batch_stats)
    return loss_fn(logits, labels), record

  zeros_like = jax.eval_shape(lambda: capture(None)[1])
  zeros = {p: jnp.zeros(s.shape, s.dtype) for p, s in zeros_like.items()}
  grads, record = jax.grad(capture, has_aux=True)(zeros)
  out = {}
  for g in gs:
    total = 0.0
    for m in g.consumers:
      a = _fold(record[m.layer], m, g.size)
      d = _fold(grads[m.layer], m, g.size)
      total = total + jnp.mean(a * d, axis=1)  # (B, size)
    out[g.name] = jnp.mean(jnp.abs(total), axis=0)
  return out
