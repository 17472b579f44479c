"""The measured sensitivity table that adaptive compression allocates over.

For every compressible layer and every option it can take (an unstructured
sparsity and a bit width, or a kept width), the table holds what the option
costs the model on a held-out validation split, measured with that layer
alone compressed and every other layer left as trained:

  delta_loss[l][o] = L_val(params with layer l under option o) - L_val(params)

and, when the budget is additive over layers (bytes on disk), what the
option costs: cost[l][o] = the bytes the layer adds to the compressed file.
A FLOPs budget is not additive (a layer's FLOPs are the product of its input
and output widths), so its table leaves `cost` empty and the allocator takes
a cost function of all the widths together (`jaxcompress.auto.flops`).

The predicted loss of a plan is the sum of its options' deltas (the layers
taken as independent, as in HAWQ-V3's integer program over bit widths, Yao
et al. 2021); the pipeline reports it beside the loss measured with every
layer compressed at once.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Option:
  """One way to compress one layer.

  Attributes:
    sparsity: fraction of the layer's weights removed by magnitude
      (unstructured), in [0, 1).
    bits: bit width of the layer's quantization grid, which is also its
      number of weight-sharing clusters (2^bits); None keeps float32.
    width: units (neurons, channels) the layer keeps after structured
      pruning; None keeps them all.
  """
  sparsity: float = 0.0
  bits: int | None = None
  width: int | None = None

  @property
  def clusters(self) -> int | None:
    """Shared values of the layer's nonzero weights (2^bits)."""
    return None if self.bits is None else 2**self.bits

  def describe(self) -> str:
    parts = []
    if self.width is not None:
      parts.append(f'{self.width} units')
    if self.sparsity:
      parts.append(f'{100 * self.sparsity:.0f}% pruned')
    if self.bits is not None:
      parts.append(f'{self.bits} bits')
    return ', '.join(parts) or 'unchanged'


@dataclasses.dataclass(frozen=True)
class Table:
  """Per-layer options, their measured loss increase and (additive) cost.

  Attributes:
    kind: 'bytes' (unstructured sparsity x bits; cost in file bytes) or
      'flops' (kept widths; cost from a FLOPs model of all widths).
    layers: the layers' names: kernel paths ('fc1/kernel') for 'bytes',
      structured group names ('fc1', 'input') for 'flops'.
    options: per layer, its options (the same grid for every layer).
    delta_loss: per layer, per option, the validation loss increase.
    cost: per layer, per option, the cost ('bytes' tables); () otherwise.
    base_loss: validation loss of the uncompressed model.
    fixed_cost: cost outside the layers (the rest of the file).
    sizes: per layer, its number of weights ('bytes') or units ('flops').
  """
  kind: str
  layers: tuple[str, ...]
  options: tuple[tuple[Option, ...], ...]
  delta_loss: tuple[tuple[float, ...], ...]
  cost: tuple[tuple[float, ...], ...] = ()
  base_loss: float = 0.0
  fixed_cost: float = 0.0
  sizes: tuple[int, ...] = ()

  def __post_init__(self):
    if self.kind not in ('bytes', 'flops'):
      raise ValueError(f"table kind must be 'bytes' or 'flops', got "
                       f'{self.kind!r}')
    n = len(self.layers)
    if len(self.options) != n or len(self.delta_loss) != n:
      raise ValueError('options and delta_loss need one row per layer')
    for i, (opts, deltas) in enumerate(zip(self.options, self.delta_loss)):
      if len(opts) != len(deltas) or not opts:
        raise ValueError(f'layer {self.layers[i]}: {len(opts)} options but '
                         f'{len(deltas)} measured losses')
    if self.kind == 'bytes':
      if len(self.cost) != n or any(len(c) != len(o) for c, o in
                                    zip(self.cost, self.options)):
        raise ValueError("a 'bytes' table needs a cost per layer and option")

  def to_json(self) -> dict[str, Any]:
    return {
        'kind': self.kind, 'layers': list(self.layers),
        'options': [[dataclasses.asdict(o) for o in opts]
                    for opts in self.options],
        'delta_loss': [list(d) for d in self.delta_loss],
        'cost': [list(c) for c in self.cost],
        'base_loss': self.base_loss, 'fixed_cost': self.fixed_cost,
        'sizes': list(self.sizes),
    }

  @classmethod
  def from_json(cls, d: dict[str, Any]) -> Table:
    return cls(
        d['kind'], tuple(d['layers']),
        tuple(tuple(Option(**o) for o in opts) for opts in d['options']),
        tuple(tuple(x) for x in d['delta_loss']),
        tuple(tuple(x) for x in d['cost']), d['base_loss'], d['fixed_cost'],
        tuple(d['sizes']))
