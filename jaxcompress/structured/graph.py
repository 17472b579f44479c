"""Finding coupled channels from the model itself, by tracing its jaxpr.

Removing unit ``c`` of a layer means slicing every parameter axis that is
indexed by the same channel: the layer's kernel output column and bias, the
batch norm that follows (scale, bias, running mean and variance), the input
rows of every layer that reads it, and, through residual additions, the same
channel of every other layer added into the same tensor. DepGraph (Fang et
al. 2023, "DepGraph: Towards Any Structural Pruning") calls such a set a
group. We find the groups from the computation, never from a hand-written
list: the model is traced with ``jax.make_jaxpr`` and every axis of every
parameter starts as its own channel space; walking the equations we attach
to each axis of each intermediate value the channel space that indexes it, and
join spaces when two of them meet:

* ``dot_general`` / ``conv_general_dilated`` join the activation's feature
  axis with the kernel's input axis (the kernel becomes a *consumer*), and
  the output's feature axis takes the kernel's output axis (a *producer*);
* element-wise primitives (``add``, ``mul``, ``max``, ...) join the spaces of
  their operands axis by axis: bias and batch-norm vectors, and both operands
  of a residual addition;
* ``reshape`` keeps a channel space through merges of axes with a tiling:
  flattening NHWC to ``H*W*C`` features gives the next Dense's input rows
  ``i -> i % C`` (channel-interleaved positions); pooling, transposes,
  broadcasts and sub-jaxprs (``jit``, ``custom_jvp_call``) pass spaces along.

Spaces are kept in a union-find whose edges carry a tiling ``(inner, outer)``:
an axis of size ``outer * C * inner`` maps index ``i`` to channel
``(i // inner) % C``.

Anything the walker cannot follow (a reduction over channels, a slice of
them, an unknown primitive) *blocks* the groups involved, with the reason;
pruning a blocked group later raises a ValueError naming its layer. Groups
whose channels reach the model output (the logits) are blocked too.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.extend import core as jex_core

from jaxcompress.rules import named_leaves

__all__ = ['Member', 'Group', 'Graph', 'trace_groups']

_UNARY_OR_ELEMENTWISE = frozenset({
    'add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'rem', 'atan2',
    'nextafter', 'and', 'or', 'xor', 'not', 'eq', 'ne', 'lt', 'le', 'gt', 'ge',
    'select_n', 'clamp', 'neg', 'exp', 'exp2', 'log', 'log1p', 'expm1', 'tanh',
    'logistic', 'rsqrt', 'sqrt', 'cbrt', 'abs', 'sign', 'floor', 'ceil',
    'round', 'is_finite', 'sin', 'cos', 'tan', 'erf', 'erfc', 'erf_inv',
    'square', 'integer_pow', 'convert_element_type', 'copy', 'copy_p',
    'reduce_precision', 'stop_gradient', 'add_any', 'real', 'imag',
    'optimization_barrier',
})
_REDUCTIONS = frozenset({
    'reduce_sum', 'reduce_max', 'reduce_min', 'reduce_prod', 'reduce_and',
    'reduce_or', 'argmax', 'argmin', 'cumsum', 'cumprod', 'cummax', 'cummin',
    'cumlogsumexp',
})
_WINDOW = frozenset({
    'reduce_window_max', 'reduce_window_min', 'reduce_window_sum',
    'reduce_window',
})


@dataclasses.dataclass(frozen=True)
class Member:
  """One parameter axis indexed by a group's channels.

  Attributes:
    path: '/'-joined variables path, e.g. ``'params/fc1/kernel'`` or
      ``'batch_stats/bn1/mean'``.
    axis: the axis of that array.
    inner, outer: the tiling: the axis has ``outer * size * inner`` entries and
      entry ``i`` belongs to channel ``(i // inner) % size``.
    role: ``'producer'`` (a kernel's output axis), ``'consumer'`` (a kernel's
      input axis) or ``'elementwise'`` (bias, batch-norm vectors).
  """
  path: str
  axis: int
  inner: int
  outer: int
  role: str

  @property
  def layer(self) -> str:
    """The layer's name: the path without collection and leaf name."""
    return '/'.join(self.path.split('/')[1:-1])

  def indices(self, keep: np.ndarray, size: int) -> np.ndarray:
    """Entries of this axis that belong to the kept channels `keep`."""
    keep = np.asarray(keep)
    o = np.arange(self.outer)[:, None, None] * size * self.inner
    c = keep[None, :, None] * self.inner
    i = np.arange(self.inner)[None, None, :]
    return (o + c + i).reshape(-1)

  def expand(self, unit_values: jax.Array, ndim: int) -> jax.Array:
    """Broadcasts per-channel values to this axis, shaped for an `ndim` array."""
    v = jnp.repeat(unit_values, self.inner)
    v = jnp.tile(v, self.outer)
    shape = [1] * ndim
    shape[self.axis] = v.shape[0]
    return v.reshape(shape)

  def fold(self, values: jax.Array) -> jax.Array:
    """Sums a vector over this axis's entries into per-channel totals."""
    size = values.shape[0] // (self.inner * self.outer)
    return values.reshape(self.outer, size, self.inner).sum(axis=(0, 2))


@dataclasses.dataclass(frozen=True)
class Group:
  """Coupled channels: keeping channel ``c`` keeps it on every member axis.

  Attributes:
    name: the producing layers, '+'-joined (``'fc1'``,
      ``'stem_conv+block1/conv2'``).
    size: number of channels.
    members: the coupled parameter axes.
    blocked: why the group cannot be pruned, or None if it can.
  """
  name: str
  size: int
  members: tuple[Member, ...]
  blocked: str | None = None

  @property
  def producers(self) -> tuple[Member, ...]:
    return tuple(m for m in self.members if m.role == 'producer')

  @property
  def consumers(self) -> tuple[Member, ...]:
    return tuple(m for m in self.members if m.role == 'consumer')

  @property
  def prunable(self) -> bool:
    return self.blocked is None


@dataclasses.dataclass(frozen=True)
class Graph:
  """The channel groups of a model, from `trace_groups`.

  Attributes:
    groups: every group that has a producer (a layer's output channels),
      prunable or blocked, in order of first appearance.
    input_shape: the shape of one example the model was traced on.
  """
  groups: tuple[Group, ...]
  input_shape: tuple[int, ...]

  @property
  def prunable(self) -> tuple[Group, ...]:
    return tuple(g for g in self.groups if g.prunable)

  def __getitem__(self, name: str) -> Group:
    for g in self.groups:
      if g.name == name:
        return g
    raise KeyError(f'No group {name!r}; groups are {[g.name for g in self.groups]}')

  def names(self) -> list[str]:
    return [g.name for g in self.groups]


# ---------------------------------------------------------------------------
# Union-find over channel spaces with tilings.


class _Spaces:
  """Weighted union-find: parent edge (p, inner, outer) maps node index j to
  p's index (j // inner) % size(p)."""

  def __init__(self):
    self.size: list[int] = []
    self.parent: list[tuple[int, int, int] | None] = []
    self.blocked: dict[int, str] = {}

  def new(self, size: int) -> int:
    self.size.append(size)
    self.parent.append(None)
    return len(self.size) - 1

  def find(self, n: int) -> tuple[int, int, int]:
    inner, outer = 1, 1
    while self.parent[n] is not None:
      p, i, o = self.parent[n]
      inner, outer = inner * i, outer * o
      n = p
    return n, inner, outer

  def resolve(self, label):
    node, inner, outer = label
    root, i, o = self.find(node)
    return root, inner * i, outer * o

  def block(self, label, reason: str) -> None:
    root, _, _ = self.resolve(label)
    self.blocked.setdefault(root, reason)

  def union(self, a, b) -> bool:
    """Joins the spaces of two labels on axes of equal length.

    Returns False when the tilings are incompatible (the caller blocks both).
    """
    ra, ia, oa = self.resolve(a)
    rb, ib, ob = self.resolve(b)
    if ra == rb:
      return (ia, oa) == (ib, ob)
    if (ia, oa) == (ib, ob) and self.size[ra] == self.size[rb]:
      self._link(rb, (ra, 1, 1))
      return True
    if (ib, ob) == (1, 1) and self.size[rb] == oa * self.size[ra] * ia:
      self._link(rb, (ra, ia, oa))
      return True
    if (ia, oa) == (1, 1) and self.size[ra] == ob * self.size[rb] * ib:
      self._link(ra, (rb, ib, ob))
      return True
    return False

  def _link(self, child: int, edge) -> None:
    self.parent[child] = edge
    if child in self.blocked:
      self.blocked.setdefault(edge[0], self.blocked.pop(child))


# ---------------------------------------------------------------------------
# The walker.


class _Walker:
  """Propagates channel labels (node, inner, outer) along a jaxpr's axes."""

  def __init__(self, spaces: _Spaces, leaf_paths: list[str]):
    self.s = spaces
    self.leaf_paths = leaf_paths
    self.roles: dict[tuple[int, int], str] = {}  # (leaf index, axis) -> role
    self.origin: dict[Any, int] = {}  # var -> leaf index (param, maybe cast)
    self.input_nodes: set[int] = set()  # the model input's axes (inputs=True)
    self.flat_inputs: dict[tuple, int] = {}  # flattened input axes -> node

  def run(self, jaxpr, in_labels: Sequence[Any]) -> list[Any]:
    env: dict[Any, Any] = {}

    def read(v):
      if isinstance(v, jex_core.Literal):
        return (None,) * np.ndim(v.val)
      return env.get(v, (None,) * len(v.aval.shape))

    for v, lab in zip(jaxpr.invars, in_labels):
      env[v] = lab
    for eqn in jaxpr.eqns:
      ins = [read(v) for v in eqn.invars]
      outs = self.eqn(eqn, ins)
      for v, lab in zip(eqn.outvars, outs):
        env[v] = lab
    return [read(v) for v in jaxpr.outvars]

  def _join(self, labels, what: str):
    """Union of several labels of one axis; returns the joined label."""
    labels = [lbl for lbl in labels if lbl is not None]
    if not labels:
      return None
    first = labels[0]
    for other in labels[1:]:
      if not self.s.union(first, other):
        reason = f'incompatible channel layouts meet in {what}'
        self.s.block(first, reason)
        self.s.block(other, reason)
    return first

  def _block_all(self, ins, reason: str) -> None:
    for lab in ins:
      for lbl in lab:
        if lbl is not None:
          self.s.block(lbl, reason)

  def eqn(self, eqn, ins):
    prim = eqn.primitive.name
    p = eqn.params
    shapes_out = [tuple(v.aval.shape) for v in eqn.outvars]

    if prim in ('convert_element_type', 'copy', 'copy_p') and eqn.invars:
      src = eqn.invars[0]
      if not isinstance(src, jex_core.Literal) and src in self.origin:
        self.origin[eqn.outvars[0]] = self.origin[src]

    if prim in _UNARY_OR_ELEMENTWISE:
      out_shape = shapes_out[0]
      axes = []
      for ax in range(len(out_shape)):
        axes.append(self._join(
            [lab[ax] for lab, v in zip(ins, eqn.invars)
             if len(lab) == len(out_shape)], prim))
      return [tuple(axes)] * len(eqn.outvars)

    if prim == 'broadcast_in_dim':
      (lab,) = ins[:1]
      in_shape = tuple(eqn.invars[0].aval.shape)
      out = [None] * len(shapes_out[0])
      for i, d in enumerate(p['broadcast_dimensions']):
        if lab[i] is None:
          continue
        if in_shape[i] == shapes_out[0][d]:
          out[d] = lab[i]
        else:
          self.s.block(lab[i], 'a channel axis is broadcast')
      return [tuple(out)]

    if prim == 'reshape':
      return [self._reshape(ins[0], tuple(eqn.invars[0].aval.shape),
                            shapes_out[0])]

    if prim == 'squeeze':
      lab = ins[0]
      dims = {d % len(lab) for d in p['dimensions']}
      return [tuple(lbl for i, lbl in enumerate(lab) if i not in dims)]

    if prim == 'transpose':
      lab = ins[0]
      return [tuple(lab[i] for i in p['permutation'])]

    if prim == 'dot_general':
      return [self._dot(eqn, ins)]

    if prim == 'conv_general_dilated':
      return [self._conv(eqn, ins)]

    if prim in _REDUCTIONS:
      lab = ins[0]
      axes = set(p.get('axes', ()) or ())
      if 'axis' in p:
        axes.add(p['axis'])
      for ax in axes:
        if lab[ax] is not None:
          self.s.block(lab[ax], f'{prim} reduces over its channels')
      if prim.startswith('cum'):
        return [lab]
      return [tuple(lbl for i, lbl in enumerate(lab) if i not in axes)]

    if prim in _WINDOW:
      lab = ins[0]
      n = len(lab)
      win = p['window_dimensions']
      strides = p['window_strides']
      pad = p['padding']
      out = []
      for ax in range(n):
        trivial = win[ax] == 1 and strides[ax] == 1 and tuple(pad[ax]) == (0, 0)
        if lab[ax] is not None and not trivial:
          self.s.block(lab[ax], f'{prim} mixes its channels')
          out.append(None)
        else:
          out.append(lab[ax])
      return [tuple(out)] * len(eqn.outvars)

    sub = _sub_jaxpr(p)
    if sub is not None:
      closed, jaxpr = sub
      nin = len(jaxpr.invars)
      if nin == len(ins):
        for inner_var, outer_var in zip(jaxpr.invars, eqn.invars):
          if not isinstance(outer_var, jex_core.Literal) and outer_var in self.origin:
            self.origin[inner_var] = self.origin[outer_var]
        outs = self.run(jaxpr, ins)
        return outs

    if prim == 'slice':
      return [self._slice(eqn, ins[0])]

    if prim == 'pad':
      return [self._pad(eqn, ins[0])]

    # Unknown primitive, or a gather/concatenate of channels.
    if any(lbl is not None for lab in ins for lbl in lab):
      reason = f'primitive {prim!r} is not understood by the tracer'
      self._block_all(ins, reason)
      return [self._opaque(s, reason) for s in shapes_out]
    return [(None,) * len(s) for s in shapes_out]

  def _opaque(self, shape, reason: str):
    """Labels of a value the tracer cannot relate to its inputs' channels.

    Each axis gets a fresh, blocked space, so whatever it is added to or
    multiplied with later (a residual addition) is blocked too: its
    channels cannot be removed without changing this value.
    """
    out = []
    for d in shape:
      node = self.s.new(d)
      self.s.blocked[node] = reason
      out.append((node, 1, 1))
    return tuple(out)

  def _slice(self, eqn, lab):
    """A static slice: untouched axes keep their channels (strided spatial
    subsampling of a shortcut); a channel axis that is cut is blocked."""
    p = eqn.params
    shape = tuple(eqn.invars[0].aval.shape)
    strides = p['strides'] or (1,) * len(shape)
    out = []
    for ax, lbl in enumerate(lab):
      whole = (p['start_indices'][ax] == 0
               and p['limit_indices'][ax] == shape[ax] and strides[ax] == 1)
      if lbl is not None and not whole:
        self.s.block(lbl, 'a slice cuts its channel axis')
        lbl = None
      out.append(lbl if whole else None)
    return tuple(out)

  def _pad(self, eqn, lab):
    """Padding: unpadded axes keep their channels; a padded channel axis
    (the zero channels of an option-A shortcut) is blocked, and so is
    everything the padded tensor meets later."""
    reason = 'zero padding adds channels to it (e.g. an option-A shortcut)'
    out = []
    for (lo, hi, interior), lbl, d in zip(
        eqn.params['padding_config'], lab, eqn.outvars[0].aval.shape):
      if (lo, hi, interior) == (0, 0, 0):
        out.append(lbl)
        continue
      if lbl is not None:
        self.s.block(lbl, reason)
        out.extend(self._opaque((d,), reason))
      else:
        out.append(None)
    return tuple(out)

  def _reshape(self, lab, in_shape, out_shape):
    """Labels through a reshape: group axes into blocks of equal product."""
    out = [None] * len(out_shape)
    i = j = 0
    while i < len(in_shape) or j < len(out_shape):
      bi, bj = [i], [j]
      pi = in_shape[i] if i < len(in_shape) else 1
      pj = out_shape[j] if j < len(out_shape) else 1
      i += 1
      j += 1
      while pi != pj:
        if pi < pj:
          pi *= in_shape[i]
          bi.append(i)
          i += 1
        else:
          pj *= out_shape[j]
          bj.append(j)
          j += 1
      bi = [a for a in bi if a < len(in_shape)]
      bj = [a for a in bj if a < len(out_shape)]
      labeled = [a for a in bi if lab[a] is not None and in_shape[a] > 1]
      big_out = [b for b in bj if out_shape[b] > 1]
      if len(labeled) == 1 and len(big_out) == 1:
        # A merge (flatten): the channel survives with a larger tiling.
        a, b = labeled[0], big_out[0]
        inner = math.prod(in_shape[k] for k in bi if k > a)
        outer = math.prod(in_shape[k] for k in bi if k < a)
        node, li, lo = lab[a]
        out[b] = (node, li * inner, lo * outer)
        continue
      if len(labeled) > 1 and len(big_out) == 1 and self._fresh_inputs(
          [lab[a] for a in labeled]):
        # Flattening the model input (NHWC -> features): one new space whose
        # index is the flattened input position.
        key = tuple(lab[a] for a in bi)
        if key not in self.flat_inputs:
          self.flat_inputs[key] = self.s.new(
              math.prod(in_shape[k] for k in bi))
        out[big_out[0]] = (self.flat_inputs[key], 1, 1)
        continue
      if len(labeled) == 1:
        # A split: the channel axis survives only if one output axis has its
        # size and everything else in the block is the leading/trailing unit.
        a = labeled[0]
        same = [b for b in bj if out_shape[b] == in_shape[a]]
        if len(same) == 1 and len(big_out) == 1:
          out[same[0]] = lab[a]
          continue
      for a in labeled:
        self.s.block(lab[a], 'a reshape splits or merges its channel axis '
                             '(as attention splits channels into heads)')
    return tuple(out)

  def _fresh_inputs(self, labels) -> bool:
    """Whether every label is an input axis not yet joined with anything."""
    return all(lbl[0] in self.input_nodes and lbl[1:] == (1, 1)
               and self.s.find(lbl[0]) == (lbl[0], 1, 1)
               and lbl[0] not in self.s.blocked for lbl in labels)

  def _record(self, var, axis: int, role: str) -> None:
    if isinstance(var, jex_core.Literal) or var not in self.origin:
      return
    self.roles.setdefault((self.origin[var], axis), role)

  def _dot(self, eqn, ins):
    (lc, rc), (lb, rb) = eqn.params['dimension_numbers']
    lhs, rhs = ins
    lv, rv = eqn.invars
    for a, b in zip(lc, rc):
      self._join([lhs[a], rhs[b]], 'dot_general')
      self._record(rv, b, 'consumer')
      self._record(lv, a, 'consumer')
    batch = [self._join([lhs[a], rhs[b]], 'dot_general') for a, b in zip(lb, rb)]
    lfree = [a for a in range(len(lhs)) if a not in lc and a not in lb]
    rfree = [b for b in range(len(rhs)) if b not in rc and b not in rb]
    for b in rfree:
      self._record(rv, b, 'producer')
    for a in lfree:
      self._record(lv, a, 'producer')
    return tuple(batch + [lhs[a] for a in lfree] + [rhs[b] for b in rfree])

  def _conv(self, eqn, ins):
    p = eqn.params
    dn = p['dimension_numbers']
    lhs, rhs = ins
    lv, rv = eqn.invars
    if p['feature_group_count'] != 1 or p['batch_group_count'] != 1:
      self._block_all(ins, 'grouped convolution')
    else:
      self._join([lhs[dn.lhs_spec[1]], rhs[dn.rhs_spec[1]]], 'convolution')
    self._record(rv, dn.rhs_spec[1], 'consumer')
    self._record(rv, dn.rhs_spec[0], 'producer')
    for ax in dn.lhs_spec[2:]:
      if lhs[ax] is not None:
        self.s.block(lhs[ax], 'a convolution slides over a channel axis')
    out = [None] * len(lhs)
    out[dn.out_spec[0]] = lhs[dn.lhs_spec[0]]
    out[dn.out_spec[1]] = rhs[dn.rhs_spec[0]]
    return tuple(out)


def _sub_jaxpr(params):
  found = []
  for v in params.values():
    if isinstance(v, jex_core.ClosedJaxpr):
      found.append((v, v.jaxpr))
    elif isinstance(v, jex_core.Jaxpr):
      found.append((None, v))
  if len(found) == 1:
    return found[0]
  return None


def trace_groups(model: nn.Module, variables: Any,
                 input_shape: Sequence[int], batch_size: int = 3,
                 inputs: bool = False) -> Graph:
  """Traces `model` and returns its groups of coupled channels.

  Args:
    model: a Flax Linen module called as ``model.apply(variables, x,
      train=False)``.
    variables: its variables (only shapes are used).
    input_shape: one example's shape (NHWC without the batch), e.g.
      ``images.shape[1:]`` of the data the model runs on.
    batch_size: the traced batch; keep it distinct from every layer width.
    inputs: also return the group ``'input'``: the model's input features
      (pixels), when the model flattens its input into a Dense layer; its
      members are the input rows of that layer (consumers only). When the
      input reaches anything else (a convolution slides over it, it is used
      unflattened) the group is blocked with the reason.

  Returns:
    A `Graph`. Its groups are the output channels of every Dense/Conv-like
    layer (any parameter axis that a ``dot_general`` or convolution produces),
    with every parameter axis coupled to them; first ``'input'`` if asked.
    `Graph.input_shape` records `input_shape`.

  Raises:
    ValueError: if `input_shape` is not a sequence of positive integers, or
      the model computes its layers in an inference-only lowering
      (``LeNet5(lowering='blocked')``), whose layers the trace cannot see.
  """
  input_shape = check_input_shape(input_shape)
  if getattr(model, 'lowering', 'xla') != 'xla':
    raise ValueError(
        f"trace_groups follows the model's own convolutions: trace "
        f"{type(model).__name__} with lowering='xla' (its default); "
        f'{model.lowering!r} is for inference')
  leaves = named_leaves(variables)
  paths = [p for p, _ in leaves]
  shapes = [tuple(x.shape) for _, x in leaves]
  treedef = jax.tree.structure(variables)

  def fn(flat, x):
    return model.apply(jax.tree.unflatten(treedef, flat), x, train=False)

  flat_specs = [jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]
  x_spec = jax.ShapeDtypeStruct((batch_size, *input_shape), jnp.float32)
  closed = jax.make_jaxpr(fn)(flat_specs, x_spec)
  jaxpr = closed.jaxpr

  spaces = _Spaces()
  walker = _Walker(spaces, paths)
  leaf_nodes = []
  in_labels = []
  for k, shape in enumerate(shapes):
    nodes = [spaces.new(d) for d in shape]
    leaf_nodes.append(nodes)
    in_labels.append(tuple((n, 1, 1) for n in nodes))
    walker.origin[jaxpr.invars[k]] = k
  input_axes = [spaces.new(d) if inputs else None for d in input_shape]
  walker.input_nodes = {n for n in input_axes if n is not None}
  in_labels.append((None, *[None if n is None else (n, 1, 1)
                            for n in input_axes]))
  outs = walker.run(jaxpr, in_labels)
  for lab in outs:
    for lbl in lab:
      if lbl is not None:
        spaces.block(lbl, 'its channels are outputs of the model')

  # Collect members per root.
  by_root: dict[int, list[Member]] = {}
  order: list[int] = []
  for k, nodes in enumerate(leaf_nodes):
    for axis, n in enumerate(nodes):
      root, inner, outer = spaces.find(n)
      role = walker.roles.get((k, axis), 'elementwise')
      if root not in by_root:
        by_root[root] = []
        order.append(root)
      by_root[root].append(Member(paths[k], axis, inner, outer, role))

  first_seen = {key: i for i, key in enumerate(walker.roles)}
  rank = {}
  for root in order:
    idx = [first_seen[(paths.index(m.path), m.axis)] for m in by_root[root]
           if m.role == 'producer']
    rank[root] = min(idx) if idx else len(first_seen)
  order.sort(key=lambda r: rank[r])
  groups = [_input_group(spaces, walker, input_shape, by_root)] if inputs else []
  for root in order:
    members = by_root[root]
    producers = [m for m in members if m.role == 'producer']
    if not producers:
      continue
    # First appearance in the computation: order producers by their layer.
    producers.sort(key=lambda m: first_seen[(paths.index(m.path), m.axis)])
    name = '+'.join(dict.fromkeys(m.layer for m in producers))
    groups.append(Group(name=name, size=spaces.size[root],
                        members=tuple(members),
                        blocked=spaces.blocked.get(root)))
  return Graph(groups=tuple(groups), input_shape=input_shape)


def check_input_shape(input_shape: Any) -> tuple[int, ...]:
  """`input_shape` as a tuple of positive ints, or a ValueError."""
  try:
    shape = tuple(int(d) for d in input_shape)
  except (TypeError, ValueError):
    shape = ()
  if not shape or any(d <= 0 for d in shape) or shape != tuple(input_shape):
    raise ValueError(f'input_shape must be one example\'s shape, a sequence '
                     f'of positive integers such as (32, 32, 3), got '
                     f'{input_shape!r}')
  return shape


def _input_group(spaces: _Spaces, walker: _Walker, input_shape,
                 by_root: dict[int, list[Member]]) -> Group:
  """The group of the model's flattened input features (see `trace_groups`)."""
  size = math.prod(input_shape)
  axes = sorted(walker.input_nodes)
  big = [n for n in axes if spaces.size[n] > 1]
  if len(big) == 1 and spaces.size[big[0]] == size:
    flat = big  # the input has one non-trivial axis: already features
  else:
    flat = list(walker.flat_inputs.values())
  reason = None
  if len(flat) != 1:
    reason = ('the input is not flattened into a Dense layer' if not flat
              else 'the input is flattened more than once')
  roots = {spaces.find(n)[0] for n in flat}
  # An image axis the computation used unflattened (a convolution, an
  # element-wise op with a parameter) ties the pixels to something else.
  for n in axes:
    if n in flat:
      continue
    if n in spaces.blocked or spaces.find(n)[0] != n or any(
        e is not None and e[0] == n for e in spaces.parent):
      reason = reason or spaces.blocked.get(
          n, 'the input is used before it is flattened')
  members: list[Member] = []
  for r in roots:
    members += by_root.get(r, [])
    reason = reason or spaces.blocked.get(r)
  if not members:
    reason = reason or 'no layer reads the flattened input'
  return Group(name='input', size=size, members=tuple(members),
               blocked=reason)
