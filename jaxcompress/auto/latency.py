"""Batch-1 latency of a network as a function of its layers' widths.

A latency budget (milliseconds of one call of the deployed file, LiteRT at
batch 1) is planned like a FLOPs budget, over the same widths table, with a
latency model in place of the FLOPs model:

  ms(widths) = intercept + sum_l slope_l * FLOPs_l(ceil(widths / g) * g)

one slope per Dense/Conv layer (`FlopsModel.per_layer` gives its FLOPs),
fitted by non-negative least squares to latencies measured on files of the
model shrunk to sampled widths (`sample_widths`). The intercept is what a
call costs whatever the widths (copying the image in and the logits out,
the interpreter's per-op overhead); a slope is that layer's time per FLOP,
which differs between layers (a small kernel stays in cache, a large one is
read from memory; a convolution and a matrix product run different code).
The granule g: XNNPACK's kernels compute output channels in tiles (of 8,
16 or 32 on x86, by the CPU's vector width), so a layer costs what its
width rounded up to the tile costs; the fit takes, of 1, 2, 4, ..., 64, the
granule whose model fits the measurements best.

The model is a guide, not the judge: `plan_by_measurement` measures the plan
it picks and, when the file is over the budget, records that measurement
(the plan's cost from then on), refits the model with it and plans again,
so the plan returned was measured within the budget. Measuring is the
caller's (`jaxcompress.export.widths` exports and times a shrunk file);
this module only fits and searches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import optimize

from jaxcompress.auto import plan as plan_lib
from jaxcompress.auto.allocate import InfeasibleBudget
from jaxcompress.auto.flops import FlopsModel
from jaxcompress.auto.sensitivity import kept_units
from jaxcompress.auto.table import Table

Widths = Mapping[str, int]


@dataclasses.dataclass(frozen=True)
class LatencyModel:
  """Milliseconds of one batch-1 call, as a function of the groups' widths.

  Attributes:
    flops: the FLOPs model whose per-layer FLOPs the slopes multiply.
    intercept: ms a call costs at zero FLOPs.
    slopes: ms per FLOP of each layer, in `flops.layers` order.
    granule: widths count in multiples of this many units.
  """
  flops: FlopsModel
  intercept: float
  slopes: tuple[float, ...]
  granule: int = 1

  kind = 'latency'   # what a plan over this cost is budgeted in

  def __call__(self, widths: Widths) -> Any:
    """Predicted ms of `widths` (counts or broadcastable arrays of them)."""
    flops = _layer_flops(self.flops, widths, self.granule)
    return self.intercept + sum(
        (s * f for s, f in zip(self.slopes, flops)), 0.0)

  @classmethod
  def fit(cls, flops: FlopsModel, widths: Sequence[Widths],
          ms: Sequence[float]) -> LatencyModel:
    """The non-negative least-squares fit to measured `ms` of `widths`.

    Raises:
      ValueError: fewer measurements than unknowns (a slope per layer and
        the intercept), or a count mismatch.
    """
    if len(widths) != len(ms):
      raise ValueError(f'{len(widths)} widths but {len(ms)} latencies')
    unknowns = len(flops.layers) + 1
    if len(ms) < unknowns:
      raise ValueError(f'fitting a latency model of {len(flops.layers)} '
                       f'layers needs at least {unknowns} measurements, got '
                       f'{len(ms)}')
    best = None
    for granule in GRANULES:
      a = np.array([[1.0, *_layer_flops(flops, w, granule)] for w in widths],
                   np.float64)
      scale = np.abs(a).max(axis=0)
      scale[scale == 0] = 1.0
      coef, residual = optimize.nnls(a / scale, np.asarray(ms, np.float64))
      if best is None or residual < best[0] * (1 - 1e-9):
        best = (residual, granule, coef / scale)
    _, granule, coef = best
    return cls(flops, float(coef[0]), tuple(float(c) for c in coef[1:]),
               granule)

  def to_json(self) -> dict:
    return {'intercept_ms': self.intercept, 'granule': self.granule,
            'ms_per_mflop': {path: 1e6 * s for (path, *_), s
                             in zip(self.flops.layers, self.slopes)}}


GRANULES = (1, 2, 4, 8, 16, 32, 64)


def _layer_flops(flops: FlopsModel, widths: Widths, granule: int) -> list:
  """`flops.per_layer` of every group's width (the dense size where
  `widths` leaves one out) rounded up to a multiple of `granule`."""
  full = {g: widths.get(g, size) for g, size in flops.sizes.items()}
  return flops.per_layer({g: np.ceil(np.asarray(w, np.float64) / granule)
                          * granule for g, w in full.items()})


def sample_widths(sizes: Mapping[str, int], fractions: Sequence[float],
                  n: int, seed: int = 0) -> list[dict[str, int]]:
  """`n` width settings to measure: the dense model, every fraction kept
  uniformly by all groups, then random combinations of the fractions (the
  widths `measure_widths` gives those fractions)."""
  out = [dict(sizes)]
  for f in fractions:
    w = {g: kept_units(f, size) for g, size in sizes.items()}
    if w not in out:
      out.append(w)
  rng = np.random.default_rng(seed)
  tries = 0
  while len(out) < n and tries < 100 * n:
    w = {g: kept_units(float(rng.choice(fractions)), size)
         for g, size in sizes.items()}
    tries += 1
    if w not in out:
      out.append(w)
  return out[:n]


def plan_by_measurement(table: Table, budget: float, model: LatencyModel,
                        measure: Callable[[Widths], float], *,
                        allocation: str = 'auto', distill: bool = True,
                        samples: Sequence[tuple[Widths, float]] = (),
                        max_tries: int = 8,
                        log: Callable[[str], None] | None = None
                        ) -> tuple[plan_lib.Plan, LatencyModel, list[dict]]:
  """The plan of least predicted loss whose measured latency fits `budget`.

  Plans against `model` (widths whose latency was measured cost their
  measurement), measures the plan with `measure(widths) -> ms`; while it is
  over the budget, adds the measurement, refits the model on `samples` and
  every measurement so far (when they are enough), and plans again.

  Returns:
    (the plan, its `predicted_cost` the model's before measuring; the model
    last used; every plan measured, as {'widths', 'predicted_ms',
    'measured_ms'}).

  Raises:
    allocate.InfeasibleBudget: nothing fits by the model, or `max_tries`
      plans were measured over the budget.
  """
  measured: dict[tuple, float] = {}
  tried = []
  samples = list(samples)
  names = list(table.layers)
  for _ in range(max_tries):
    p = plan_lib.make_plan(table, budget, allocation,
                           cost_model=_MeasuredCost(model, measured, names),
                           distill=distill)
    w = p.widths()
    key = tuple(w[g] for g in names)
    predicted = float(model(w))
    # A measured plan is over the budget at its measured cost, so every
    # plan reaching here is measured for the first time.
    ms = float(measure(w))
    tried.append({'widths': dict(w), 'predicted_ms': predicted,
                  'measured_ms': ms})
    if log:
      log(f'auto: plan {w} predicted {predicted:.4f} ms, measured '
          f'{ms:.4f} ms (budget {budget:.4f})')
    if ms <= budget:
      return dataclasses.replace(p, predicted_cost=predicted), model, tried
    measured[key] = ms
    samples.append((w, ms))
    if len(samples) > len(model.flops.layers):   # enough to refit
      model = LatencyModel.fit(model.flops, [s[0] for s in samples],
                               [s[1] for s in samples])
  raise InfeasibleBudget(
      f'{max_tries} plans were measured over the latency budget '
      f'{budget:.4f} ms: ' + '; '.join(
          f'{t["widths"]} {t["measured_ms"]:.4f} ms' for t in tried))


class _MeasuredCost:
  """`model`'s cost, but the measured ms for widths measured already."""

  def __init__(self, model: LatencyModel, measured: dict, names: list[str]):
    self.model, self.measured, self.names = model, measured, names
    self.kind = model.kind

  def __call__(self, widths: Widths) -> Any:
    cost = np.asarray(self.model(widths), np.float64)
    for key, ms in self.measured.items():
      hit = np.ones(np.shape(cost), bool)
      for g, v in zip(self.names, key):
        hit &= np.asarray(widths[g]) == v
      cost = np.where(hit, ms, cost)
    return cost
