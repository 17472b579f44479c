"""The schedule fields shared by the `pruning` and `structured` sections."""

from __future__ import annotations

import dataclasses

from jaxcompress.plugins import sections as S
from jaxcompress.pruning import schedules

SCHEDULES = ('one_shot', 'iterative', 'polynomial', 'every_step', 'never')


@dataclasses.dataclass(frozen=True)
class ScheduleFields:
  """When masks change (the schedules of `jaxcompress.pruning.schedules`).

  Attributes:
    schedule: 'one_shot' | 'iterative' | 'polynomial' | 'every_step' |
      'never'.
    units: 'steps' or 'epochs', the unit of every step field below.
    step: the one-shot step.
    steps, fractions: iterative pruning steps and fractions of the target.
    begin, end, every, power, initial_fraction: polynomial (Zhu & Gupta).
  """
  schedule: str = 'one_shot'
  units: str = 'steps'
  step: float = 0.0
  steps: tuple[float, ...] = ()
  fractions: tuple[float, ...] = ()
  begin: float = 0.0
  end: float = 1.0
  every: float = 1.0
  power: float = 3.0
  initial_fraction: float = 0.0

  def __post_init__(self):
    S.check_choice(self.schedule, SCHEDULES, 'schedule')
    S.check_choice(self.units, ('steps', 'epochs'), 'units')
    self.make_schedule(1)   # the schedule's own checks, in steps

  def make_schedule(self, steps_per_epoch: int) -> schedules.Schedule:
    """The schedule, its step fields converted to train steps."""
    scale = steps_per_epoch if self.units == 'epochs' else 1
    at = lambda v: int(round(float(v) * scale))
    if self.schedule == 'one_shot':
      return schedules.OneShot(at(self.step))
    if self.schedule == 'iterative':
      return schedules.Iterative([at(s) for s in self.steps],
                                 self.fractions or None)
    if self.schedule == 'polynomial':
      return schedules.Polynomial(at(self.begin), at(self.end),
                                  max(at(self.every), 1), self.power,
                                  self.initial_fraction)
    if self.schedule == 'every_step':
      return schedules.EveryStep()
    return schedules.Never()


def check_reaches_target(fields: ScheduleFields, where: str, num_steps: int,
                         steps_per_epoch: int) -> None:
  """Raises ValueError if the schedule's last update comes after the run."""
  last = fields.make_schedule(steps_per_epoch).last_update
  if last is not None and last >= num_steps:
    raise ValueError(
        f'{where}: the {fields.schedule} schedule reaches its target at step '
        f'{last}, but the run has only {num_steps} steps (0..{num_steps - 1})'
        '; end the schedule earlier or train longer')
