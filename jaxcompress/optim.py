"""Optimizers and learning-rate schedules, built from a run's settings.

Fields read (`plugins.settings.RunSettings`; experiments/configs/default.py):
  optimizer: 'sgd' | 'momentum' | 'nesterov' | 'adam' | 'adamw' | 'lamb' | 'rmsprop'
  learning_rate, momentum, weight_decay, grad_clip_norm
  schedule: 'constant' | 'step' | 'cosine' | 'warmup_cosine' | 'polynomial'
  warmup_steps, step_boundaries (fractions of training), step_factor,
  polynomial_power, end_learning_rate_factor

Weight decay: for 'adamw' and 'lamb' it is the optimizer's decoupled decay;
for the others it is L2 regularization added to the gradient before the
optimizer (as in Caffe and Han et al. 2015).
"""

from __future__ import annotations

import optax

OPTIMIZERS = ('sgd', 'momentum', 'nesterov', 'adam', 'adamw', 'lamb', 'rmsprop')
SCHEDULES = ('constant', 'step', 'cosine', 'warmup_cosine', 'polynomial')


def check(config) -> None:
  """Raises ValueError for an unknown optimizer or schedule name."""
  if config.optimizer not in OPTIMIZERS:
    raise ValueError(f'Unknown optimizer {config.optimizer!r}; '
                     f'known optimizers: {OPTIMIZERS}')
  if config.schedule not in SCHEDULES:
    raise ValueError(f'Unknown schedule {config.schedule!r}; '
                     f'known schedules: {SCHEDULES}')


def make_schedule(config, num_steps: int) -> optax.Schedule:
  """The learning-rate schedule over `num_steps` train steps."""
  check(config)
  lr = config.learning_rate
  if config.schedule == 'constant':
    return optax.constant_schedule(lr)
  if config.schedule == 'step':
    boundaries = {int(f * num_steps): config.step_factor
                  for f in config.step_boundaries}
    return optax.piecewise_constant_schedule(lr, boundaries)
  if config.schedule == 'cosine':
    return optax.cosine_decay_schedule(lr, num_steps)
  if config.schedule == 'warmup_cosine':
    return optax.warmup_cosine_decay_schedule(
        0.0, lr, config.warmup_steps, num_steps)
  return optax.polynomial_schedule(
      lr, lr * config.end_learning_rate_factor, config.polynomial_power,
      num_steps)


def make_optimizer(config, num_steps: int) -> optax.GradientTransformation:
  """The optimizer chain (clipping, L2, optimizer with schedule)."""
  sched = make_schedule(config, num_steps)
  name, wd = config.optimizer, config.weight_decay
  parts = []
  if config.grad_clip_norm:
    parts.append(optax.clip_by_global_norm(config.grad_clip_norm))
  if wd and name not in ('adamw', 'lamb'):
    parts.append(optax.add_decayed_weights(wd))
  if name == 'sgd':
    parts.append(optax.sgd(sched))
  elif name in ('momentum', 'nesterov'):
    parts.append(optax.sgd(sched, config.momentum, nesterov=name == 'nesterov'))
  elif name == 'adam':
    parts.append(optax.adam(sched))
  elif name == 'adamw':
    parts.append(optax.adamw(sched, weight_decay=wd))
  elif name == 'lamb':
    parts.append(optax.lamb(sched, weight_decay=wd))
  else:
    parts.append(optax.rmsprop(sched, momentum=config.momentum))
  return optax.chain(*parts)
