"""When masks change and how sparse they are at each change.

A schedule maps the transformation's step counter ``t`` (number of updates
applied so far) to ``(update, fraction)``: whether the masks are recomputed at
this step, and the fraction of each layer's final sparsity to reach then. A
layer with final sparsity ``s`` is pruned to ``fraction * s`` (exact counts:
``round(fraction * round(s * n))`` weights removed). Everything is jnp code on
the traced counter, so a schedule never causes a retrace.

* `OneShot(step)`: prune once (Han et al. 2015 without iteration; SNIP at
  step 0, Lee et al. 2019).
* `Iterative(steps, fractions)`: prune-then-retrain cycles (Han et al. 2015:
  prune, retrain the survivors, prune again); with Han's quality x std rule
  each listed step applies the rule once more.
* `Polynomial(begin, end, every, power=3)`: gradual pruning of Zhu & Gupta
  2017, "To prune, or not to prune",
  ``s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3``, masks updated every
  ``dt`` steps from ``t0`` to ``t0 + n dt``.
* `EveryStep()`: a projection after every update (iterative hard
  thresholding, sparsity-constrained training).
* `Never()`: masks stay as initialised (fixed masks, lottery-ticket rounds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp


class Schedule:
  """Base class: ``schedule(count) -> (update: bool[], fraction: f32[])``.

  `last_update` is the step of the last mask change that reaches the full
  target (None if the schedule never changes the masks); a run shorter than
  that never reaches its sparsity.
  """

  def __call__(self, count: jax.Array) -> tuple[jax.Array, jax.Array]:
    raise NotImplementedError

  @property
  def last_update(self) -> int | None:
    raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class OneShot(Schedule):
  """Prune to the full target once, at `step`."""
  step: int = 0

  def __post_init__(self):
    if self.step < 0:
      raise ValueError(f'OneShot step must be >= 0, got {self.step}.')

  def __call__(self, count):
    return count == self.step, jnp.float32(1.0)

  @property
  def last_update(self):
    return self.step


@dataclasses.dataclass(frozen=True)
class Iterative(Schedule):
  """Prune at each of `steps`, to `fractions[i]` of the final sparsity.

  `fractions` defaults to ``(1/R, 2/R, ..., 1)`` for ``R`` steps.
  """
  steps: Sequence[int]
  fractions: Sequence[float] | None = None

  def __post_init__(self):
    steps = tuple(int(s) for s in self.steps)
    if not steps:
      raise ValueError('Iterative schedule needs at least one step.')
    if any(s < 0 for s in steps) or any(
        b <= a for a, b in zip(steps, steps[1:])):
      raise ValueError(f'Iterative steps must be >= 0 and strictly '
                       f'increasing, got {steps}.')
    fr = self.fractions
    if fr is None:
      fr = [(i + 1) / len(steps) for i in range(len(steps))]
    fr = tuple(float(f) for f in fr)
    if len(fr) != len(steps):
      raise ValueError(f'Iterative schedule has {len(steps)} steps but '
                       f'{len(fr)} fractions.')
    if any(not 0.0 <= f <= 1.0 for f in fr):
      raise ValueError(f'Iterative fractions must lie in [0, 1], got {fr}.')
    object.__setattr__(self, 'steps', steps)
    object.__setattr__(self, 'fractions', fr)

  def __call__(self, count):
    steps = jnp.asarray(self.steps, jnp.int32)
    hit = steps == count
    frac = jnp.sum(jnp.where(hit, jnp.asarray(self.fractions, jnp.float32), 0))
    return jnp.any(hit), frac

  @property
  def last_update(self):
    return self.steps[-1]


@dataclasses.dataclass(frozen=True)
class Polynomial(Schedule):
  """Zhu & Gupta's gradual schedule (power 3 = their cubic).

  fraction(t) = 1 - (1 - initial_fraction) (1 - min(1, (t - begin) /
  (end - begin)))^power, applied at ``t = begin, begin + every, ...`` up to
  and including `end` (`end` is always an update step).
  """
  begin: int
  end: int
  every: int = 100
  power: float = 3.0
  initial_fraction: float = 0.0

  def __post_init__(self):
    if self.begin < 0:
      raise ValueError(f'Polynomial schedule begin must be >= 0, got '
                       f'{self.begin}.')
    if self.end <= self.begin:
      raise ValueError(f'Polynomial schedule ends (step {self.end}) before '
                       f'it begins (step {self.begin}).')
    if self.every < 1:
      raise ValueError(f'Polynomial schedule needs every >= 1, got '
                       f'{self.every}.')
    if self.power <= 0:
      raise ValueError(f'Polynomial power must be > 0, got {self.power}.')
    if not 0.0 <= self.initial_fraction <= 1.0:
      raise ValueError('Polynomial initial_fraction must lie in [0, 1], got '
                       f'{self.initial_fraction}.')

  def __call__(self, count):
    in_range = (count >= self.begin) & (count <= self.end)
    update = in_range & (((count - self.begin) % self.every == 0)
                         | (count == self.end))
    p = jnp.clip((count - self.begin) / (self.end - self.begin), 0.0, 1.0)
    frac = 1.0 - (1.0 - self.initial_fraction) * (1.0 - p) ** self.power
    frac = jnp.where(count >= self.end, 1.0, frac)
    return update, frac.astype(jnp.float32)

  @property
  def last_update(self):
    return self.end


@dataclasses.dataclass(frozen=True)
class EveryStep(Schedule):
  """Recompute (project onto) the masks after every update."""

  def __call__(self, count):
    return jnp.asarray(True), jnp.float32(1.0)

  @property
  def last_update(self):
    return 0


@dataclasses.dataclass(frozen=True)
class Never(Schedule):
  """Masks never change after initialisation."""

  def __call__(self, count):
    return jnp.asarray(False), jnp.float32(1.0)

  @property
  def last_update(self):
    return None
