"""Structured masks as an optax transformation.

`structured_mask` keeps one boolean vector per group of coupled channels
(`graph.trace_groups`) in its state. At the steps its schedule chooses
(inside the compiled step, under ``lax.cond``) it scores the units, removes
the lowest ones, and at every step rewrites the updates so that

    params + updates' = (params + updates) * mask

holds exactly: ``updates' = where(mask, updates, -params)``. Masked entries
become exactly 0.0 after ``optax.apply_updates``, whatever optimizer,
momentum or weight decay came before it in the chain. A unit's mask covers
every coupled ``params`` axis: its kernel column, bias, batch-norm scale and
offset, and the input rows of the layers that read it, so the masked model is
what `removal.shrink` turns into a smaller one.

Schedules are those of unstructured pruning (`jaxcompress.pruning.schedules`:
`OneShot`, `Iterative`, `Polynomial`); at a mask update with fraction ``f``
the group of ``C`` units with final target ``n`` removed has
``round(f * n)`` removed. Removed units score ``-inf`` afterwards, so the
masks only shrink. Distributions:

* ``'uniform'``: each group removes its own target (its sparsity times its
  size, from a `(regex, sparsity)` rule over group names or the default);
* ``'global'``: the groups form one pool with one threshold on the scores
  (network slimming's global BN-scale threshold, Liu et al. 2017); the pool
  removes the sum of the targets, and every group keeps at least one unit.

Groups tied by one width attribute (`removal.tie_groups`) keep equal counts:
the mean of the counts the distribution gave them (rounded, at least one),
each keeping its best units. (Taking the largest count instead let a group
that lost nothing veto the pruning of its tied partners.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxcompress import rules as rules_lib
from jaxcompress.structured.graph import Graph
from jaxcompress.structured.scores import ScoreFn

__all__ = ['StructuredMaskState', 'group_targets', 'structured_mask',
           'apply_unit_masks', 'find_state']

DISTRIBUTIONS = ('uniform', 'global')
_DEFAULT = object()


class StructuredMaskState(NamedTuple):
  """Step counter and one boolean vector (True = kept) per group."""
  count: jax.Array
  masks: dict[str, jax.Array]


def group_targets(graph: Graph, sparsity: float,
                  rules: Sequence[tuple[str, float | None]] = ()
                  ) -> dict[str, int]:
  """Final number of units removed per prunable group.

  Args:
    graph: the model's groups.
    sparsity: default fraction of units removed per group.
    rules: ``(regex over group names, sparsity or None)``, first match wins;
      None leaves the group whole. A rule matching no group raises.

  Returns:
    {group name: units removed}, only for groups that lose units.

  Raises:
    ValueError: naming the layer, if a target would remove every unit of a
      group, names a blocked group, or a sparsity is outside [0, 1].
  """
  names = {g.name: 0 for g in graph.groups}
  settings = rules_lib.apply_rules(names, list(rules), default=_DEFAULT)
  out = {}
  for g in graph.groups:
    s = settings[g.name]
    explicit = s is not _DEFAULT
    s = sparsity if s is _DEFAULT else s
    if s is None or float(s) == 0.0:
      continue
    if not g.prunable:
      if explicit:
        raise ValueError(f'Layer {g.name!r} cannot be pruned: {g.blocked}')
      continue
    s = float(s)
    if not 0.0 <= s <= 1.0:
      raise ValueError(f'Layer {g.name!r}: sparsity {s} is outside [0, 1]')
    n = int(round(s * g.size))
    if n >= g.size:
      raise ValueError(f'Layer {g.name!r}: sparsity {s} removes all {g.size} '
                       'of its units; keep at least one')
    if n > 0:
      out[g.name] = n
  return out


def _leaf_factors(graph: Graph, params: Any, names: Sequence[str]):
  """{params leaf path: [(group, member)]} for the masked groups."""
  paths = {p for p, _ in rules_lib.named_leaves(params)}
  out: dict[str, list] = {}
  for g in graph.groups:
    if g.name not in names:
      continue
    for m in g.members:
      if not m.path.startswith('params/'):
        continue
      p = m.path[len('params/'):]
      if p not in paths:
        raise ValueError(f'Layer {g.name!r}: {m.path} is not in the params')
      out.setdefault(p, []).append((g.name, m))
  return out


def apply_unit_masks(graph: Graph, params: Any,
                     masks: Mapping[str, jax.Array]) -> Any:
  """``params`` with every coupled slice of removed units set to zero."""
  factors = _leaf_factors(graph, params, list(masks))

  def f(path, x):
    name = rules_lib.path_str(path)
    keep = None
    for g, m in factors.get(name, ()):
      k = m.expand(masks[g], x.ndim)
      keep = k if keep is None else keep & k
    return x if keep is None else jnp.where(keep, x, 0.0).astype(x.dtype)
  return jax.tree_util.tree_map_with_path(f, params)


def _desc_rank(score: jax.Array) -> jax.Array:
  """Rank of each entry from the highest (0) down; ties by position."""
  order = jnp.argsort(-score, stable=True)
  return jnp.zeros_like(order).at[order].set(jnp.arange(order.size))


def structured_mask(graph: Graph, targets: Mapping[str, int],
                    score_fn: ScoreFn, schedule: Any,
                    distribution: str = 'uniform',
                    ties: Sequence[Sequence[str]] = ()
                    ) -> optax.GradientTransformation:
  """Masks whole units of the groups in `targets`, scored by `score_fn`.

  Args:
    graph: the model's groups (`trace_groups`).
    targets: {group name: units removed at the end} (`group_targets`).
    score_fn: ``params -> {group name: f32[size]}``, higher = keep.
    schedule: ``count -> (update: bool, fraction: f32)`` (a
      `jaxcompress.pruning` schedule).
    distribution: ``'uniform'`` or ``'global'``.
    ties: lists of group names that must keep equal numbers of units.

  Returns:
    An `optax.GradientTransformation` whose state is `StructuredMaskState`;
    chain it after the optimizer. ``update`` needs ``params``.

  Raises:
    ValueError: an unknown distribution or group, or a blocked group.
  """
  if distribution not in DISTRIBUTIONS:
    raise ValueError(f'Unknown distribution {distribution!r}; known: '
                     f'{DISTRIBUTIONS}')
  names = [g.name for g in graph.groups if g.name in targets]
  unknown = set(targets) - set(names)
  if unknown:
    raise ValueError(f'Unknown group(s) {sorted(unknown)}; groups are '
                     f'{graph.names()}')
  for n in names:
    if not graph[n].prunable:
      raise ValueError(f'Layer {n!r} cannot be pruned: {graph[n].blocked}')
    if targets[n] >= graph[n].size:
      raise ValueError(f'Layer {n!r}: removing {targets[n]} units leaves none')
  ties = [[n for n in t if n in targets] for t in ties]
  ties = [t for t in ties if len(t) > 1]
  sizes = {n: graph[n].size for n in names}

  def recompute(params, old, frac):
    scores = score_fn(params)
    scores = {n: jnp.where(old[n], scores[n].astype(jnp.float32), -jnp.inf)
              for n in names}
    if distribution == 'uniform':
      new = {}
      for n in names:
        k = sizes[n] - jnp.round(frac * targets[n]).astype(jnp.int32)
        new[n] = _desc_rank(scores[n]) < k
    else:
      pool = jnp.concatenate([scores[n] for n in names])
      total = sum(targets.values())
      keep_total = pool.size - jnp.round(frac * total).astype(jnp.int32)
      kept = _desc_rank(pool) < keep_total
      new, start = {}, 0
      for n in names:
        k = kept[start:start + sizes[n]]
        start += sizes[n]
        best = jnp.arange(sizes[n]) == jnp.argmax(scores[n])
        new[n] = jnp.where(jnp.any(k), k, best)
    for t in ties:
      counts = jnp.stack([jnp.sum(new[n]) for n in t])
      alive = jnp.stack([jnp.sum(old[n]) for n in t])
      k = jnp.round(jnp.mean(counts.astype(jnp.float32))).astype(jnp.int32)
      k = jnp.clip(k, 1, jnp.min(alive))
      for n in t:
        new[n] = _desc_rank(scores[n]) < k
    return {n: new[n] & old[n] for n in names}

  def init_fn(params):
    _leaf_factors(graph, params, names)  # validates paths early
    return StructuredMaskState(
        count=jnp.zeros([], jnp.int32),
        masks={n: jnp.ones(sizes[n], bool) for n in names})

  def update_fn(updates, state, params=None):
    if params is None:
      raise ValueError('structured_mask needs params in update()')
    update, frac = schedule(state.count)
    masks = jax.lax.cond(update,
                         lambda: recompute(params, state.masks, frac),
                         lambda: state.masks)
    factors = _leaf_factors(graph, params, names)

    def f(path, u, p):
      keep = None
      for g, m in factors.get(rules_lib.path_str(path), ()):
        k = m.expand(masks[g], u.ndim)
        keep = k if keep is None else keep & k
      return u if keep is None else jnp.where(keep, u, -p).astype(u.dtype)
    updates = jax.tree_util.tree_map_with_path(f, updates, params)
    return updates, StructuredMaskState(count=state.count + 1, masks=masks)

  return optax.GradientTransformation(init_fn, update_fn)


def find_state(tree: Any) -> StructuredMaskState | None:
  """The first `StructuredMaskState` inside an optimizer state."""
  found = []

  def visit(x):
    if isinstance(x, StructuredMaskState):
      found.append(x)
      return True
    return False
  jax.tree.map(lambda _: None, tree, is_leaf=visit)
  return found[0] if found else None
