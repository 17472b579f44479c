"""A compression plan: one option per layer, chosen under a budget.

`make_plan` turns a measured table (`jaxcompress.auto.table`) and a budget
into a `Plan`:

* bytes budget ('bytes' table): unstructured sparsity and a bit width per
  kernel, chosen by the exact knapsack over the bytes each option adds to
  the Deep Compression file (`allocate.knapsack`); the plan is then trained
  with gradual pruning + quantization-aware training and stored with weight
  sharing (2^bits clusters), sparse index gaps and entropy coding;
* FLOPs budget ('flops' table): a kept width per channel group, chosen by
  exhaustive search over the widths with the FLOPs model
  (`allocate.exhaustive`, `flops.FlopsModel`); the plan is trained with
  structured pruning and the model physically shrunk;
* latency budget (the same widths table): as FLOPs, with a latency model
  fitted to measured batch-1 latencies in place of the FLOPs model
  (`latency.LatencyModel`; `latency.plan_by_measurement` measures the plan
  it picks).

With ``allocation='uniform'`` every layer takes the same option (the
baseline allocation). The plan converts itself into the `(regex, value)`
rules of the pruning, quantization, Deep Compression and structured
sections, and records what it predicts (loss, cost) for the report to set
beside what is measured.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

import jax
import numpy as np

from jaxcompress.auto import allocate
from jaxcompress.auto.sensitivity import compress_kernel, file_bits
from jaxcompress.auto.table import Option, Table
from jaxcompress.rules import named_leaves

ALLOCATIONS = ('auto', 'uniform')


@dataclasses.dataclass(frozen=True)
class LayerChoice:
  """The option chosen for one layer, and what the table predicts of it.

  Attributes:
    layer: kernel path ('bytes' plans) or group name ('flops' plans).
    option: the chosen option.
    size: the layer's weights ('bytes') or units ('flops').
    predicted_delta_loss: its validation loss increase, measured alone.
    predicted_cost: the bytes it adds to the file ('bytes' plans).
  """
  layer: str
  option: Option
  size: int
  predicted_delta_loss: float
  predicted_cost: float | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
  """Per-layer options under a budget (see the module docstring).

  Attributes:
    kind: 'bytes', 'flops' or 'latency'.
    allocation: 'auto' (least predicted loss) or 'uniform'.
    budget: bytes of the file, FLOPs per example, or batch-1 ms.
    layers: the choice for every layer.
    base_loss: validation loss of the trained model.
    predicted_loss: base_loss plus every layer's delta.
    predicted_cost: the plan's bytes (with the rest of the file), FLOPs
      or ms.
    symmetric: symmetric or affine quantization grids ('bytes' plans).
    distill: fine-tune with distillation from the uncompressed model.
  """
  kind: str
  allocation: str
  budget: float
  layers: tuple[LayerChoice, ...]
  base_loss: float
  predicted_loss: float
  predicted_cost: float
  symmetric: bool = False
  distill: bool = True

  # ------------------------------------------------------- as config rules
  def _rule(self, layer: str) -> str:
    return f'^{re.escape(layer)}$'

  def pruning_rules(self) -> tuple:
    """((regex, sparsity or None), ...) for the `pruning` section."""
    return tuple((self._rule(c.layer), c.option.sparsity or None)
                 for c in self.layers)

  def quantization_rules(self) -> tuple:
    """weight_rules of the `quantization` section: per-tensor grids."""
    return tuple((self._rule(c.layer), {'bits': c.option.bits,
                                        'symmetric': self.symmetric,
                                        'axis': None})
                 for c in self.layers if c.option.bits is not None)

  def sharing_rules(self) -> tuple:
    """((regex, bits), ...) for `deep_compression.save` (32: float32
    values, for layers the plan leaves unquantized)."""
    return tuple((self._rule(c.layer), file_bits(c.option))
                 for c in self.layers)

  def structured_rules(self) -> tuple:
    """((regex over groups, fraction removed), ...) for `structured`."""
    return tuple((self._rule(c.layer), 1.0 - c.option.width / c.size)
                 for c in self.layers
                 if c.option.width is not None and c.option.width < c.size)

  def with_sparsity(self, layer: str, sparsity: float) -> Plan:
    """The plan with `layer` pruned to `sparsity` (its predictions kept)."""
    return dataclasses.replace(self, layers=tuple(
        dataclasses.replace(c, option=dataclasses.replace(
            c.option, sparsity=float(sparsity))) if c.layer == layer else c
        for c in self.layers))

  def widths(self) -> dict[str, int]:
    return {c.layer: c.option.width for c in self.layers}

  def compress(self, params: Any) -> Any:
    """`params` with every planned kernel pruned by magnitude and put on its
    grid at once (a 'bytes' plan, no fine-tuning)."""
    chosen = {c.layer: c.option for c in self.layers}
    names = iter(n for n, _ in named_leaves(params))

    def one(w):
      o = chosen.get(next(names))
      return w if o is None else compress_kernel(w, o, self.symmetric)

    return jax.tree.map(one, params)

  def to_json(self) -> dict:
    out = dataclasses.asdict(self)
    for c in out['layers']:
      c['clusters'] = (None if c['option']['bits'] is None
                       else 2**c['option']['bits'])
      c['describe'] = Option(**c['option']).describe()
    return out


def make_plan(table: Table, budget: float, allocation: str = 'auto', *,
              cost_model: Callable[[Mapping[str, Any]], Any] | None = None,
              symmetric: bool = False, distill: bool = True) -> Plan:
  """The plan of least predicted loss within `budget`.

  Args:
    table: the measured table.
    budget: file bytes ('bytes' table), or FLOPs per example or batch-1
      ms of a widths table, in the cost model's unit.
    allocation: 'auto' (exact search over every layer's options) or
      'uniform' (one option shared by every layer).
    cost_model: a widths table's cost of the groups' widths (a
      `FlopsModel` or a `latency.LatencyModel`; the plan's kind is its
      `kind`, 'flops' or 'latency').
    symmetric, distill: recorded in the plan (how it trains).

  Raises:
    ValueError: an unknown allocation, a widths table without its model.
    allocate.InfeasibleBudget: no plan fits the budget.
  """
  if allocation not in ALLOCATIONS:
    raise ValueError(f'Unknown allocation {allocation!r}; known: '
                     f'{ALLOCATIONS}')
  delta = table.delta_loss
  if table.kind == 'bytes':
    room = budget - table.fixed_cost
    cheapest = sum(min(c) for c in table.cost)
    if cheapest > room:
      raise allocate.InfeasibleBudget(
          f'the budget {budget:,.0f} bytes is below the smallest file these '
          f'options allow ({cheapest + table.fixed_cost:,.0f} bytes: every '
          f'layer at its cheapest option, {table.fixed_cost:,.0f} for the '
          'rest of the file)')
    if allocation == 'auto':
      idx, _, _ = allocate.knapsack(delta, table.cost, room)
    else:
      idx, _, _ = allocate.uniform(
          delta, lambda ch: sum(c[o] for c, o in zip(table.cost, ch)), room)
    cost = table.fixed_cost + sum(c[o] for c, o in zip(table.cost, idx))
  else:
    if cost_model is None:
      raise ValueError('a widths table needs its cost model (FLOPs or '
                       'latency)')
    widths = [np.array([o.width for o in opts]) for opts in table.options]

    def cost_fn(ch):
      return cost_model({g: w[i] for g, w, i in zip(table.layers, widths,
                                                      ch)})

    if allocation == 'auto':
      idx, _, cost = allocate.exhaustive(delta, cost_fn, budget)
    else:
      # The same kept fraction in every group: options sorted alike.
      idx, _, cost = allocate.uniform(delta, cost_fn, budget)
  layers = tuple(
      LayerChoice(name, table.options[i][o], table.sizes[i], delta[i][o],
                  table.cost[i][o] if table.cost else None)
      for i, (name, o) in enumerate(zip(table.layers, idx)))
  kind = (table.kind if table.kind == 'bytes'
          else getattr(cost_model, 'kind', table.kind))
  return Plan(kind, allocation, float(budget), layers, table.base_loss,
              table.base_loss + sum(c.predicted_delta_loss for c in layers),
              float(cost), symmetric, distill)
