"""The uniform baseline: one sparsity and one bit width for every layer.

A budget point of the uniform allocation is what a practitioner would set
by hand: every kernel pruned to the same sparsity and put on grids of the
same bits, the sparsity as low as the bytes allow. `measure_uniform` finds,
for each bit width, that sparsity (bisection on the bytes of the kernels so
compressed, to 1/2048) and measures every layer under it, so that
`make_plan(table, budget, 'uniform')` picks the bit width of least predicted
loss, its file filling the budget like the auto plan's, not a coarser
grid's point below it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from jaxcompress import deep_compression as dc
from jaxcompress.auto.sensitivity import (
    LossFn,
    compress_kernel,
    file_bits,
    file_overhead,
    replace_leaf,
)
from jaxcompress.auto.table import Option, Table
from jaxcompress.rules import named_leaves


def _kernels_bytes(flat, layers, option, symmetric) -> list[float]:
  return [float(dc.kernel_bytes(compress_kernel(flat[n], option, symmetric),
                                file_bits(option))) for n in layers]


def fill_sparsity(params: Any, layers: Sequence[str], bits: int | None,
                  room: float, symmetric: bool = False,
                  max_sparsity: float = 0.995, iters: int = 11
                  ) -> float | None:
  """The least sparsity (within 1/2^iters) at which every kernel of
  `layers`, pruned to it and put on `bits` grids, fits `room` bytes;
  None if not even `max_sparsity` fits."""
  flat = dict(named_leaves(params))
  fits = lambda s: sum(_kernels_bytes(flat, layers, Option(s, bits),
                                      symmetric)) <= room
  if fits(0.0):
    return 0.0
  if not fits(max_sparsity):
    return None
  lo, hi = 0.0, max_sparsity
  for _ in range(iters):
    mid = (lo + hi) / 2
    lo, hi = (lo, mid) if fits(mid) else (mid, hi)
  return hi


def measure_uniform(params: Any, loss_fn: LossFn, layers: Sequence[str],
                    bits: Sequence[int | None], budget: float,
                    symmetric: bool = False,
                    log: Callable[[str], None] | None = None) -> Table:
  """A 'bytes' table of uniform options filling `budget`: per bit width,
  the sparsity `fill_sparsity` finds (widths that cannot fit are left out),
  the same options in every layer.

  Raises:
    ValueError: no bit width fits the budget at all.
  """
  flat = dict(named_leaves(params))
  probe = Option(0.9, next(iter(bits)))
  fixed = file_overhead(params, layers, probe,
                        _kernels_bytes(flat, layers, probe, symmetric),
                        symmetric)
  options = []
  for b in bits:
    s = fill_sparsity(params, layers, b, budget - fixed, symmetric)
    if s is not None:
      options.append(Option(s, b))
  if not options:
    raise ValueError(f'the budget {budget:,.0f} bytes is below the smallest '
                     'uniform file at any of the bit widths')
  base = float(loss_fn(params))
  deltas, costs = [], []
  for name in layers:
    w = np.asarray(flat[name], np.float32)
    ks = [compress_kernel(w, o, symmetric) for o in options]
    deltas.append(tuple(float(loss_fn(replace_leaf(params, name, k))) - base
                        for k in ks))
    costs.append(tuple(float(dc.kernel_bytes(k, file_bits(o)))
                       for k, o in zip(ks, options)))
  if log:
    log('auto: uniform options filling the budget: ' + ', '.join(
        o.describe() for o in options))
  return Table('bytes', tuple(layers), (tuple(options),) * len(layers),
               tuple(deltas), tuple(costs), base, fixed,
               tuple(int(np.size(flat[n])) for n in layers))
