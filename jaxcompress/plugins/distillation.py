"""The `distillation` section: learn from a teacher's soft targets.

Fields (`DistillationSection`):
  teacher_workdir: workdir of a finished teacher run (its results.json names
    the model, its model.msgpack holds the variables); '' when a pipeline
    hands the teacher in memory (`Context.inputs['distillation']['teacher']`
    = (model, variables)).
  temperature: T (> 0).
  alpha: weight of the soft loss, in [0, 1].
  hints: ((student_layer, teacher_layer), ...) module names whose outputs
    are matched, e.g. (('fc2', 'fc2'),).
  hint_weight: weight of the hint term.
  hint_loss: 'similarity' or 'mse'.

The teacher's logits are computed once for the training images in memory
(the whole set, or each process's share) and kept on the device beside them
(`Plugin.train_arrays`) when the student sees un-augmented images; with
`jitter_pixels` or streamed data the frozen teacher runs inside the same
jitted step on each batch.
"""

from __future__ import annotations

import dataclasses

import jax

from jaxcompress import distill, saved_runs
from jaxcompress.plugins import interface
from jaxcompress.plugins import sections as S


@dataclasses.dataclass(frozen=True)
class DistillationSection:
  """The `distillation` section (see the module docstring)."""
  teacher_workdir: str = ''
  temperature: float = 4.0
  alpha: float = 0.9
  hints: tuple = ()
  hint_weight: float = 1.0
  hint_loss: str = 'similarity'

  def __post_init__(self):
    S.check_positive(self.temperature, 'temperature')
    S.check_range(self.alpha, 'alpha', 0.0, 1.0)
    S.check_nonnegative(self.hint_weight, 'hint_weight')
    S.check_choice(self.hint_loss, distill.HINT_LOSSES, 'hint_loss')
    for h in self.hints:
      if len(h) != 2 or not all(isinstance(n, str) for n in h):
        raise ValueError(f'hints must be (student_layer, teacher_layer) '
                         f'pairs, got {h!r}')


def teacher(sec: DistillationSection, ctx: interface.Context):
  """(model, variables) of the teacher, in memory or from its workdir."""
  given = ctx.inputs.get('distillation', {}).get('teacher')
  if given is not None:
    return given
  if not sec.teacher_workdir:
    raise ValueError('distillation.teacher_workdir is empty and no teacher '
                     'was handed over by a pipeline')
  model, variables, _ = saved_runs.load_run(sec.teacher_workdir)
  return model, variables


def build(sec: DistillationSection, ctx: interface.Context
          ) -> interface.Plugin:
  t_model, t_vars = teacher(sec, ctx)
  T, alpha = sec.temperature, sec.alpha
  wrap = None
  if sec.hints:
    wrap = distill.hint_apply(t_model, t_vars, sec.hints, sec.hint_weight,
                              sec.hint_loss)
    # Names are checked now, before anything compiles.
    wrap(ctx.model.apply)(ctx.variables, ctx.train_images[:2], train=True,
                          mutable=['batch_stats'],
                          rngs={'dropout': jax.random.key(0)})

  if ctx.settings.jitter_pixels or not ctx.settings.in_memory:
    def loss_fn(logits, batch):
      t = t_model.apply(t_vars, batch['image'], train=False)
      return distill.distillation_loss(logits, t, batch['label'], T, alpha)
    return interface.Plugin('distillation', loss_fn=loss_fn, wrap_apply=wrap)

  def loss_fn(logits, batch):
    return distill.distillation_loss(logits, batch['teacher_logits'],
                                     batch['label'], T, alpha)

  return interface.Plugin(
      'distillation', loss_fn=loss_fn, wrap_apply=wrap,
      train_arrays=lambda images: {'teacher_logits': distill.teacher_logits(
          t_model, t_vars, images)})
