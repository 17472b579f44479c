"""Measuring each layer's sensitivity to each option, one layer at a time.

`compress_kernel` is what an option does to one kernel: magnitude pruning to
the option's sparsity (the smallest |w| removed, as `pruning.magnitude`),
then the quantization grid the fine-tuning trains on (per-tensor min/max,
`quantization.quantize_params` with zeros kept), whose values are also the
layer's shared weights in the file. `measure_unstructured` tries every option
on every layer alone, records the validation loss increase and the bytes
the layer adds to a Deep Compression file (`deep_compression.kernel_bytes`).

`measure_widths` does the same for structured pruning: a group keeps its
`width` units of largest L2 norm (the others masked to zero on every axis
the group couples, `structured.apply_unit_masks`), and records the loss.
"""

from __future__ import annotations

import functools
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxcompress import deep_compression as dc
from jaxcompress import structured
from jaxcompress.auto.table import Option, Table
from jaxcompress.quantization import apply as qapply
from jaxcompress.quantization.quantizers import QuantSpec
from jaxcompress.rules import named_leaves

LossFn = Callable[[Any], float]


def grid_spec(bits: int, symmetric: bool = False) -> QuantSpec:
  """The per-tensor grid a layer of `bits` trains on and is stored with."""
  return QuantSpec(bits, symmetric, axis=None)


def prune_kernel(w: np.ndarray, sparsity: float) -> np.ndarray:
  """`w` with its round(sparsity * size) smallest-|w| entries set to 0."""
  w = np.asarray(w, np.float32)
  k = int(round(sparsity * w.size))
  if k == 0:
    return w
  flat = w.reshape(-1).copy()
  flat[np.argsort(np.abs(flat), kind='stable')[:k]] = 0.0
  return flat.reshape(w.shape)


@functools.partial(jax.jit, static_argnums=1)
def _on_grid(w: jax.Array, spec: QuantSpec) -> jax.Array:
  # Compiled, as in the train step: eager and compiled arithmetic can round
  # a zero point that falls on a tie (2-bit affine grids of symmetric
  # weights) to neighbouring integers, shifting the whole grid by a step.
  return qapply.quantize_params(w, spec, preserve_sparsity=True)


def on_grid(w: np.ndarray, bits: int, symmetric: bool = False) -> np.ndarray:
  """`w` on its per-tensor grid of `bits` (zeros kept), as QAT computes it."""
  return np.asarray(_on_grid(jnp.asarray(w, jnp.float32),
                             grid_spec(bits, symmetric)), np.float32)


def compress_kernel(w: np.ndarray, option: Option,
                    symmetric: bool = False) -> np.ndarray:
  """One kernel under an unstructured option: pruned, then on its grid."""
  w = prune_kernel(w, option.sparsity)
  return w if option.bits is None else on_grid(w, option.bits, symmetric)


def replace_leaf(params: Any, name: str, value: np.ndarray) -> Any:
  """`params` with the leaf at path `name` replaced by `value`."""
  names = iter(n for n, _ in named_leaves(params))
  return jax.tree.map(lambda x: value if next(names) == name else x, params)


def unstructured_options(sparsities: Sequence[float],
                         bits: Sequence[int]) -> tuple[Option, ...]:
  """Every (sparsity, bits) pair; bits of 32 keep float32 values."""
  return tuple(Option(float(s), None if b == dc.FLOAT_BITS else int(b))
               for s in sparsities for b in bits)


def file_bits(option: Option) -> int:
  """The option's bits in a Deep Compression rule (32: float32 values)."""
  return dc.FLOAT_BITS if option.bits is None else option.bits


def measure_unstructured(params: Any, loss_fn: LossFn, layers: Sequence[str],
                         options: Sequence[Option], symmetric: bool = False,
                         log: Callable[[str], None] | None = None) -> Table:
  """The 'bytes' table: every option on every layer alone.

  Args:
    params: the trained float parameters.
    loss_fn: params -> validation loss (a float).
    layers: kernel paths ('fc1/kernel') to compress.
    options: the options every layer may take (sparsity and bits; bits
      None keeps float32 values, stored sparse).
    symmetric: symmetric (zero point 0) or affine quantization grids.
    log: called with a line per layer measured.

  Returns:
    The table; `fixed_cost` is the rest of the file, measured on a file of
    the middle option in every layer.

  Raises:
    ValueError: a layer that is not a parameter.
  """
  flat = dict(named_leaves(params))
  for name in layers:
    if name not in flat:
      raise ValueError(f'auto: no parameter {name!r}; parameters are '
                       f'{sorted(flat)}')
  base = float(loss_fn(params))
  deltas, costs = [], []
  for name in layers:
    w = np.asarray(flat[name], np.float32)
    d_row, c_row = [], []
    for o in options:
      k = compress_kernel(w, o, symmetric)
      d_row.append(float(loss_fn(replace_leaf(params, name, k))) - base)
      c_row.append(float(dc.kernel_bytes(k, file_bits(o))))
    deltas.append(tuple(d_row))
    costs.append(tuple(c_row))
    if log:
      log(f'auto: measured {name} ({w.size:,} weights) under '
          f'{len(options)} options')
  mid = len(options) // 2
  fixed = file_overhead(params, layers, options[mid],
                        [c[mid] for c in costs], symmetric)
  return Table('bytes', tuple(layers), (tuple(options),) * len(layers),
               tuple(deltas), tuple(costs), base, fixed,
               tuple(int(np.size(flat[n])) for n in layers))


def file_overhead(params: Any, layers: Sequence[str], option: Option,
                  costs: Sequence[float], symmetric: bool = False) -> float:
  """The bytes of a file outside its kernels (biases, header, seal; one
  LZMA stream for all): a real file with every layer under `option`, less
  those kernels' own `costs`."""
  flat = dict(named_leaves(params))
  ref = params
  for name in layers:
    ref = replace_leaf(ref, name, compress_kernel(flat[name], option,
                                                  symmetric))
  with tempfile.TemporaryDirectory() as tmp:
    size = dc.save(ref, [(f'^{re.escape(n)}$', file_bits(option))
                         for n in layers], os.path.join(tmp, 'ref'))
  return float(size - sum(costs))


def mask_widths(graph: structured.Graph, variables: Any,
                widths: dict[str, int]) -> Any:
  """`variables` with each group in `widths` keeping that many units, those
  of largest L2 norm (`structured.weight_norm`), the rest zeroed."""
  params = variables['params']
  scores = structured.weight_norm(graph, 2, list(widths))(params)
  masks = {}
  for name, width in widths.items():
    s = np.asarray(scores[name])
    keep = np.zeros(s.shape, bool)
    keep[np.argsort(-s, kind='stable')[:width]] = True
    masks[name] = keep
  return structured.mask_variables(graph, variables, masks)


def kept_units(fraction: float, size: int) -> int:
  """The units a group of `size` keeps at `fraction` (at least one)."""
  return min(size, max(1, int(round(fraction * size))))


def measure_widths(graph: structured.Graph, variables: Any, loss_fn: LossFn,
                   groups: Sequence[str], fractions: Sequence[float],
                   log: Callable[[str], None] | None = None) -> Table:
  """The 'flops' table: every kept fraction of every group alone.

  Args:
    graph: the model's channel groups (`structured.trace_groups`).
    variables: the trained variables.
    loss_fn: variables -> validation loss.
    groups: the prunable groups to size.
    fractions: kept fractions of each group's units, in (0, 1].

  Raises:
    ValueError: a group that is not prunable or does not exist.
  """
  names = {g.name: g for g in graph.groups}
  for name in groups:
    if name not in names:
      raise ValueError(f'auto: no group {name!r}; groups are {sorted(names)}')
    if not names[name].prunable:
      raise ValueError(f'auto: group {name!r} cannot be pruned: '
                       f'{names[name].blocked}')
  base = float(loss_fn(variables))
  options, deltas = [], []
  for name in groups:
    size = names[name].size
    # One option per fraction, in the given order, in every group (uniform
    # allocation picks the same index everywhere).
    widths = [kept_units(f, size) for f in fractions]
    opts = tuple(Option(width=w) for w in widths)
    deltas.append(tuple(
        float(loss_fn(mask_widths(graph, variables, {name: w}))) - base
        if w < size else 0.0 for w in widths))
    options.append(opts)
    if log:
      log(f'auto: measured group {name} ({size} units) at {len(opts)} widths')
  return Table('flops', tuple(groups), tuple(options), tuple(deltas), (),
               base, 0.0, tuple(names[n].size for n in groups))
