"""FLOPs of a network as a function of its layers' widths.

A Dense or Conv layer computes, per example,
``MACs = factor * (input channels) * (output channels)`` where `factor` is
what the channels do not change (a convolution's output positions times its
kernel's spatial size, 1 for a Dense layer). `FlopsModel.from_model` reads
every layer's dense MACs (`metrics.layer_macs`) and the channel groups that
index its input and output axes (`structured.trace_groups`), so that

  FLOPs(widths) = 2 * sum_l factor_l * w(in_l) * w(out_l),

which is what `metrics.summarize` counts for the shrunk model (element-wise
work ignored, as there). A layer's FLOPs couple two widths, so a FLOPs
budget is not a sum over layers; `jaxcompress.auto.allocate.exhaustive`
searches all width combinations with this model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import numpy as np

from jaxcompress import metrics, structured


@dataclasses.dataclass(frozen=True)
class FlopsModel:
  """FLOPs per example of the widths of a model's channel groups.

  Attributes:
    layers: (layer path, factor, input group or None, output group or None)
      per Dense/Conv layer; a None group is a width no plan changes.
    sizes: {group name: units in the dense model}.
  """
  layers: tuple[tuple[str, float, str | None, str | None], ...]
  sizes: Mapping[str, int]

  @classmethod
  def from_model(cls, model: nn.Module, variables: Any,
                 graph: structured.Graph, x: np.ndarray) -> FlopsModel:
    """The FLOPs model of `model` (traced on the example batch `x`)."""
    macs = metrics.layer_macs(model, variables, np.asarray(x)[:1])
    role = {}
    for g in graph.groups:
      for m in g.members:
        if m.role in ('producer', 'consumer'):
          role[(m.path, m.role)] = g.name
    sizes = {g.name: g.size for g in graph.groups}
    layers = []
    for path, (dense, _) in macs.items():
      kernel = f'params/{path}/kernel'
      gin = role.get((kernel, 'consumer'))
      gout = role.get((kernel, 'producer'))
      denom = (sizes[gin] if gin else 1) * (sizes[gout] if gout else 1)
      layers.append((path, dense / denom, gin, gout))
    return cls(tuple(layers), sizes)

  kind = 'flops'   # what a plan over this cost is budgeted in

  def per_layer(self, widths: Mapping[str, Any]) -> list[Any]:
    """Each layer's FLOPs per example, in `layers` order; `widths` maps
    groups to counts (or arrays of them, broadcast together); groups it
    leaves out keep their dense size."""
    out = []
    for _, factor, gin, gout in self.layers:
      w_in = widths.get(gin, self.sizes[gin]) if gin else 1
      w_out = widths.get(gout, self.sizes[gout]) if gout else 1
      out.append(2.0 * factor * np.asarray(w_in, np.float64) * w_out)
    return out

  def __call__(self, widths: Mapping[str, Any]) -> Any:
    """FLOPs per example of `widths` (as `per_layer`), summed."""
    return sum(self.per_layer(widths), 0.0)

  def dense(self) -> float:
    return float(self({}))
