"""The top level of an experiment config: what runs, on what, for how long.

`RunSettings` holds every top-level field of an experiment config
(experiments/configs/default.py documents them), parsed and checked by
`sections.parse`: unknown fields are rejected with a did-you-mean, types and
ranges are checked, all before any data is loaded or anything compiled.
Compression sections (`pruning`, `quantization`, ...) and the sections of
multi-stage pipelines (`lottery`, `ptq`, `teacher`) are parsed by the
registry (`jaxcompress.plugins.registry`), not here.
"""

from __future__ import annotations

import dataclasses

from jaxcompress.optim import OPTIMIZERS, SCHEDULES
from jaxcompress.plugins import sections as S

ON_NONFINITE = ('stop', 'continue')


@dataclasses.dataclass(frozen=True)
class RunSettings:
  """Every top-level field of an experiment config (see default.py)."""
  pipeline: str = 'train'
  seed: int = 0
  # Data.
  dataset: str = 'mnist'
  data_dir: str = ''
  manual_dir: str = ''
  in_memory: bool = True
  train_subset: int = 0
  test_subset: int = 0
  validation_examples: int = 0
  sample_examples: int = 2048
  jitter_pixels: int = 0
  # Model.
  model: str = 'lenet_300_100'
  model_kwargs: dict = dataclasses.field(default_factory=dict)
  init_from: str = ''
  shard_params: bool = False
  # Optimization.
  batch_size: int = 128
  num_epochs: float = 20.0
  num_train_steps: int = -1
  optimizer: str = 'momentum'
  learning_rate: float = 0.05
  momentum: float = 0.9
  weight_decay: float = 1e-4
  grad_clip_norm: float = 0.0
  schedule: str = 'cosine'
  warmup_steps: int = 0
  step_boundaries: tuple[float, ...] = (0.5, 0.75)
  step_factor: float = 0.1
  polynomial_power: float = 1.0
  end_learning_rate_factor: float = 0.0
  # Loop.
  steps_per_call: int = -1
  eval_every_steps: int = -1
  checkpoint_every_steps: int = -1
  log_every_steps: int = 100
  eval_batch_size: int = 1000
  measure_latency: bool = True
  on_nonfinite_loss: str = 'stop'
  on_collapse: str = 'stop'

  def __post_init__(self):
    S.check_choice(self.optimizer, OPTIMIZERS, 'optimizer')
    S.check_choice(self.schedule, SCHEDULES, 'schedule')
    S.check_choice(self.on_nonfinite_loss, ON_NONFINITE, 'on_nonfinite_loss')
    S.check_choice(self.on_collapse, ON_NONFINITE, 'on_collapse')
    for name in ('batch_size', 'eval_batch_size', 'sample_examples'):
      if getattr(self, name) < 1:
        raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
    for name in ('train_subset', 'test_subset', 'validation_examples',
                 'jitter_pixels', 'warmup_steps'):
      S.check_nonnegative(getattr(self, name), name)
    if self.log_every_steps == 0 or self.log_every_steps < -1:
      raise ValueError(f'log_every_steps must be > 0 (or -1: off), got '
                       f'{self.log_every_steps}')
    if self.num_train_steps == 0 or self.num_train_steps < -1:
      raise ValueError(f'num_train_steps must be > 0 (or -1: use num_epochs), '
                       f'got {self.num_train_steps}')
    if self.num_train_steps == -1:
      S.check_positive(self.num_epochs, 'num_epochs')
    if self.steps_per_call == 0 or self.steps_per_call < -1:
      raise ValueError(f'steps_per_call must be > 0 (or -1: one epoch), got '
                       f'{self.steps_per_call}')
    for name in ('eval_every_steps', 'checkpoint_every_steps'):
      v = getattr(self, name)
      if v == 0 or v < -1:
        raise ValueError(f'{name} must be > 0 (or -1), got {v}')
    S.check_nonnegative(self.learning_rate, 'learning_rate')
    S.check_range(self.momentum, 'momentum', 0.0, 1.0, hi_open=True)
    S.check_nonnegative(self.weight_decay, 'weight_decay')
    S.check_nonnegative(self.grad_clip_norm, 'grad_clip_norm')
    S.check_positive(self.step_factor, 'step_factor')
    S.check_positive(self.polynomial_power, 'polynomial_power')
    S.check_nonnegative(self.end_learning_rate_factor,
                        'end_learning_rate_factor')
    for b in self.step_boundaries:
      S.check_range(b, 'step_boundaries', 0.0, 1.0)
    if not self.model:
      raise ValueError('model must name a model of jaxcompress.models')

  def replace(self, **changes) -> RunSettings:
    return dataclasses.replace(self, **changes)


def resolve_steps(s: RunSettings, num_train_examples: int
                  ) -> tuple[int, int, int]:
  """(num_train_steps, steps_per_epoch, steps_per_call) of a run.

  Raises:
    ValueError: a batch larger than the training set, or step counts that do
      not line up with the compiled calls.
  """
  spe = num_train_examples // s.batch_size
  if spe < 1:
    raise ValueError(f'batch_size {s.batch_size} is larger than the '
                     f'{num_train_examples} training examples')
  total = (s.num_train_steps if s.num_train_steps > 0
           else int(round(s.num_epochs * spe)))
  if total < 1:
    raise ValueError(f'num_epochs {s.num_epochs} is less than one step of '
                     f'batch_size {s.batch_size} over {num_train_examples} '
                     'examples')
  per_call = s.steps_per_call if s.steps_per_call > 0 else min(spe, total)
  if per_call > spe:
    raise ValueError(f'steps_per_call {per_call} exceeds one epoch ({spe} '
                     'steps)')
  if total % per_call:
    raise ValueError(f'num_train_steps {total} is not a multiple of '
                     f'steps_per_call {per_call}')
  for field in ('eval_every_steps', 'checkpoint_every_steps'):
    every = getattr(s, field)
    if every > 0 and every % per_call:
      raise ValueError(f'{field} {every} is not a multiple of steps_per_call '
                       f'{per_call}')
  return total, spe, per_call
