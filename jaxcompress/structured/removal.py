"""Physical removal: a structurally masked model becomes a smaller model.

Given the groups of coupled channels (`graph.trace_groups`) and, per group,
the channels to keep, `shrink` slices every coupled parameter axis (kernel
output columns, bias, batch-norm scale/bias/mean/var, the next layers' input
rows, with the flatten tiling) and rebuilds the module with fewer features.

The new module is ``model.clone(**attrs)``; which attribute sets which width
is found from the model itself: every integer attribute (or integer in a
sequence attribute) is bumped by one under ``jax.eval_shape(model.init)``,
and the parameter axes whose length changes tell which groups it controls.
Pruned input features (the ``'input'`` group of `trace_groups(...,
inputs=True)`) are not a width: the module gets ``inputs=`` the kept indices
of its flattened input (`models.MLP.inputs`) and gathers them first.
A group whose width no attribute controls, or two groups tied to one
attribute (``ResidualBlock.features`` sets both convolutions of a block) that
keep different counts, raise a ValueError naming the layer.

When a group's removed channels are zero in every coupled ``params`` slice
(what `structured_mask` leaves after `optax.apply_updates`), the shrunk model
computes exactly what the masked model computes: removed channels only ever
reach the rest of the network through zeroed input rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxcompress.rules import named_leaves
from jaxcompress.structured.graph import Graph, check_input_shape, trace_groups

__all__ = ['kept_units', 'mask_variables', 'shrink', 'tie_groups',
           'width_attributes']


def _leaf_dict(variables: Any) -> dict[str, Any]:
  return dict(named_leaves(variables))


def kept_units(graph: Graph, variables: Any) -> dict[str, np.ndarray]:
  """Per prunable group, which channels are alive in `variables`.

  A channel is dead when its slice of every coupled ``params`` array is
  exactly zero (running statistics do not count).
  """
  leaves = _leaf_dict(variables)
  out = {}
  for g in graph.prunable:
    alive = np.zeros(g.size, bool)
    for m in g.members:
      if not m.path.startswith('params/') and 'params' in variables:
        continue
      x = np.asarray(leaves[m.path])
      nz = np.moveaxis(x != 0, m.axis, 0).reshape(x.shape[m.axis], -1).any(1)
      alive |= nz.reshape(m.outer, g.size, m.inner).any(axis=(0, 2))
    out[g.name] = alive
  return out


def _check_keep(graph: Graph, keep: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """Validates a {group name: bool mask or index list} and returns indices."""
  names = {g.name for g in graph.groups}
  unknown = [k for k in keep if k not in names]
  if unknown:
    raise ValueError(f'Unknown group(s) {unknown}; groups are {graph.names()}')
  out = {}
  for g in graph.groups:
    if g.name not in keep:
      continue
    k = np.asarray(keep[g.name])
    idx = np.flatnonzero(k) if k.dtype == bool else np.unique(k.astype(int))
    if k.dtype == bool and k.shape != (g.size,):
      raise ValueError(f'Layer {g.name!r}: keep mask has shape {k.shape}, '
                       f'the layer has {g.size} units')
    if idx.size == 0:
      raise ValueError(f'Layer {g.name!r}: the rule removes all {g.size} of '
                       'its units; keep at least one')
    if idx.size < g.size and not g.prunable:
      raise ValueError(f'Layer {g.name!r} cannot be pruned: {g.blocked}')
    if idx.size and (idx.min() < 0 or idx.max() >= g.size):
      raise ValueError(f'Layer {g.name!r}: keep indices out of range '
                       f'[0, {g.size})')
    out[g.name] = idx
  return out


def mask_variables(graph: Graph, variables: Any,
                   keep: Mapping[str, Any]) -> Any:
  """Zeroes the removed channels of every coupled ``params`` slice.

  This is the masked model whose outputs `shrink` reproduces.
  """
  keep = _check_keep(graph, keep)
  leaves = _leaf_dict(variables)
  factors: dict[str, Any] = {}
  for g in graph.groups:
    if g.name not in keep:
      continue
    units = np.zeros(g.size, np.float32)
    units[keep[g.name]] = 1.0
    for m in g.members:
      if not m.path.startswith('params/'):
        continue
      f = np.tile(np.repeat(units, m.inner), m.outer)
      shape = [1] * np.ndim(leaves[m.path])
      shape[m.axis] = f.size
      f = f.reshape(shape)
      factors[m.path] = f if m.path not in factors else factors[m.path] * f
  flat, treedef = jax.tree_util.tree_flatten_with_path(variables)
  names = [n for n, _ in named_leaves(variables)]
  out = [jnp.asarray(np.asarray(x) * factors[n]) if n in factors else x
         for n, (_, x) in zip(names, flat)]
  return jax.tree.unflatten(treedef, out)


def _init_shapes(model: nn.Module, input_shape) -> dict[str, tuple]:
  x = jax.ShapeDtypeStruct((1, *input_shape), jnp.float32)
  shapes = jax.eval_shape(
      lambda x: model.init(jax.random.PRNGKey(0), x, train=False), x)
  return {n: tuple(s.shape) for n, s in named_leaves(shapes)}


def _int_slots(model: nn.Module):
  """(field, index or None, value) for every integer in the module's fields."""
  for f in dataclasses.fields(model):
    if f.name in ('parent', 'name', 'inputs'):  # `inputs` holds indices
      continue
    v = getattr(model, f.name)
    if isinstance(v, bool):
      continue
    if isinstance(v, (int, np.integer)):
      yield f.name, None, int(v)
    elif isinstance(v, (tuple, list)) and v and all(
        isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in v):
      for i, e in enumerate(v):
        yield f.name, i, int(e)


def _with_slot(model: nn.Module, field: str, index, value: int) -> nn.Module:
  if index is None:
    return model.clone(**{field: value})
  seq = list(getattr(model, field))
  seq[index] = value
  return model.clone(**{field: type(getattr(model, field))(seq)})


def _input_shape(graph: Graph | None, input_shape) -> tuple[int, ...]:
  """The example shape to build the model on: the graph's, or given."""
  if input_shape is None:
    if graph is None:
      raise ValueError('shrink needs the shape of one example: pass '
                       'input_shape (e.g. images.shape[1:]) or a graph from '
                       'trace_groups')
    return graph.input_shape
  shape = check_input_shape(input_shape)
  if graph is not None and shape != graph.input_shape:
    raise ValueError(f'input_shape {shape} differs from the {graph.input_shape}'
                     ' the graph was traced on')
  return shape


def width_attributes(model: nn.Module, graph: Graph,
                     input_shape: Sequence[int] | None = None
                     ) -> dict[tuple[str, int | None], list[str]]:
  """Which module attribute sets the width of which groups.

  Args:
    model: the module.
    graph: its groups (`trace_groups`).
    input_shape: one example's shape; default the graph's.

  Returns:
    {(field, index or None): [group names]}: bumping that integer by one
    changes exactly the parameter axes of those groups.
  """
  input_shape = _input_shape(graph, input_shape)
  base = _init_shapes(model, input_shape)
  axis_group = {}
  for g in graph.groups:
    for m in g.members:
      axis_group[(m.path, m.axis)] = g.name
  out = {}
  for field, index, value in _int_slots(model):
    try:
      shapes = _init_shapes(_with_slot(model, field, index, value + 1),
                            input_shape)
    except Exception:  # pylint: disable=broad-except
      continue  # an integer that is not a width (e.g. a kernel size rule)
    changed = set()
    for path, shape in shapes.items():
      old = base.get(path)
      if old is None or len(old) != len(shape):
        continue
      for ax, (a, b) in enumerate(zip(old, shape)):
        if a != b and (path, ax) in axis_group:
          changed.add(axis_group[(path, ax)])
    if changed:
      out[(field, index)] = sorted(changed)
  return out


def shrink(model: nn.Module, variables: Any,
           keep: Mapping[str, Any] | None = None,
           graph: Graph | None = None,
           input_shape: Sequence[int] | None = None
           ) -> tuple[nn.Module, Any]:
  """Physically removes channels: a smaller module and sliced variables.

  Args:
    model: the (Linen) module; its widths must be module attributes.
    variables: its variables (``params``, maybe ``batch_stats``), typically
      structurally masked.
    keep: {group name: bool mask (size,) or kept indices}; groups not named
      keep every channel. Default: the channels alive in `variables` (see
      `kept_units`).
    graph: the model's groups; traced on `input_shape` when None.
    input_shape: one example's shape (NHWC without the batch); default the
      graph's. One of the two is required.

  Returns:
    ``(small_model, small_variables)`` with
    ``small_model.apply(small_variables, x)`` equal to ``model.apply(
    mask_variables(graph, variables, keep), x)`` up to float rounding.

  Raises:
    ValueError: naming the layer, if a group would lose every channel, a
      blocked group (one the tracer could not resolve, or the logits) would
      lose channels, or the new widths cannot be expressed by the module's
      attributes; no input shape (neither `graph` nor `input_shape`), or
      one that differs from the graph's.
  """
  input_shape = _input_shape(graph, input_shape)
  graph = graph if graph is not None else trace_groups(model, variables,
                                                       input_shape)
  if keep is None:
    keep = kept_units(graph, variables)
  keep = _check_keep(graph, keep)
  keep = {k: v for k, v in keep.items() if v.size < graph[k].size}

  if not keep:
    return model, variables
  new_model = model
  if 'input' in keep:
    # Input features are not a width: the module reads a subset of them.
    if 'inputs' not in {f.name for f in dataclasses.fields(model)}:
      raise ValueError(
          f"Layer 'input': {type(model).__name__} has no `inputs` attribute "
          'to read a subset of its input features, so pruned inputs cannot '
          'be removed')
    new_model = model.clone(inputs=tuple(int(i) for i in keep['input']))
  # Rebuild the module with the new widths.
  attrs = width_attributes(model, graph, input_shape)
  controlled = {name for names_ in attrs.values() for name in names_}
  for name in keep:
    if name not in controlled and name != 'input':
      raise ValueError(
          f'Layer {name!r}: no integer attribute of {type(model).__name__} '
          'sets its width, so the shrunk model cannot be expressed')
  for (field, index), group_names in attrs.items():
    sizes = {g: (keep[g].size if g in keep else graph[g].size)
             for g in group_names}
    if len(set(sizes.values())) > 1:
      raise ValueError(
          f'Layers {sorted(sizes)} share the width attribute '
          f'{type(model).__name__}.{field}'
          f'{"" if index is None else f"[{index}]"} but keep different '
          f'numbers of units {sizes}; tie them (see `tie_groups`)')
    new = next(iter(sizes.values()))
    old = graph[group_names[0]].size
    if new != old:
      new_model = _with_slot(new_model, field, index, new)
  # Slice every coupled axis.
  slices: dict[str, list] = {}
  for g in graph.groups:
    if g.name not in keep:
      continue
    for m in g.members:
      slices.setdefault(m.path, []).append((m.axis, m.indices(keep[g.name], g.size)))
  flat, treedef = jax.tree_util.tree_flatten_with_path(variables)
  names = [n for n, _ in named_leaves(variables)]
  new_leaves = []
  for n, (_, x) in zip(names, flat):
    x = np.asarray(x)
    for axis, idx in slices.get(n, ()):
      x = np.take(x, idx, axis=axis)
    new_leaves.append(jnp.asarray(x))
  new_vars = jax.tree.unflatten(treedef, new_leaves)

  got = _init_shapes(new_model, input_shape)
  for n, x in zip(names, new_leaves):
    if got.get(n) != tuple(x.shape):
      raise ValueError(
          f'Layer {"/".join(n.split("/")[1:-1])!r}: sliced {n} has shape '
          f'{tuple(x.shape)} but {type(new_model).__name__} with the new '
          f'attributes builds {got.get(n)}')
  return new_model, new_vars


def tie_groups(model: nn.Module, graph: Graph,
               input_shape: Sequence[int] | None = None) -> list[list[str]]:
  """Sets of groups whose widths one attribute sets (must keep equal counts)."""
  ties = []
  for names_ in width_attributes(model, graph, input_shape).values():
    if len(names_) > 1:
      ties.append(list(names_))
  return ties

