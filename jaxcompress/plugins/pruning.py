"""The `pruning` section: unstructured / N:M pruning during training.

Fields (`PruningSection`; all optional):

  score: a name in `SCORES` ('magnitude', 'random', 'saliency', 'snip',
    'movement', or one added with `register_score`)
  score_kwargs: settings for a score added with `register_score` (its
    builder reads them from the section)
  magnitude_ord: 1 (|w|) or 2 (w^2)
  saliency_batch_size, saliency_batches: data the gradient scores see
  mask_type: 'unstructured' | 'nm';  nm: (N, M);  nm_axis: axis of the groups
  distribution: 'uniform' | 'global' | 'erk' | 'std' (Han's quality x std)
  sparsity: final sparsity in [0, 1) (the quality parameter under 'std')
  rules: ((regex, sparsity or None), ...) per-layer overrides
  schedule fields: see `schedule.ScheduleFields`
  allow_regrow: recompute masks over all weights (IHT projection)
  constrained: True -> projection onto nnz <= k after every update
  l1, group_lasso: penalty coefficients (0 = off)
  rewind_step: keep a snapshot of the parameters at this step (-1 = off)
  seed: PRNG seed of random scores

A pipeline may hand masks and reset weights in memory through
`Context.inputs['pruning']` ('initial_masks', 'reset_params': lottery
rounds). The plugin's report adds ``pruning`` (the `sparsity_summary` of the
final parameters, with ``max_kept`` per layer) to results.json.

A new score is one file in `jaxcompress.pruning` plus one line in `SCORES`
(or a `register_score` call from your own code): a builder
``(section, ctx) -> pruning.Score``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from jaxcompress import pruning
from jaxcompress.plugins import interface
from jaxcompress.plugins import sections as S
from jaxcompress.plugins.schedule import ScheduleFields, check_reaches_target
from jaxcompress.pruning import distributions
from jaxcompress.pruning.movement import movement

ScoreBuilder = Callable[['PruningSection', interface.Context], pruning.Score]


def _saliency(sec, ctx, batches):
  return pruning.saliency(ctx.loss, ctx.train_images, ctx.train_labels,
                          sec.saliency_batch_size, batches, sec.seed)


SCORES: dict[str, ScoreBuilder] = {
    'magnitude': lambda sec, ctx: pruning.magnitude(sec.magnitude_ord),
    'random': lambda sec, ctx: pruning.random(),
    'saliency': lambda sec, ctx: _saliency(sec, ctx, sec.saliency_batches),
    'snip': lambda sec, ctx: _saliency(sec, ctx, 1),
    'movement': lambda sec, ctx: movement(),
}


def register_score(name: str, builder: ScoreBuilder) -> None:
  """Makes `pruning.score=name` build its score with `builder`."""
  SCORES[name] = builder


@dataclasses.dataclass(frozen=True)
class PruningSection(ScheduleFields):
  """The `pruning` section (see the module docstring)."""
  score: str = 'magnitude'
  score_kwargs: dict = dataclasses.field(default_factory=dict)
  magnitude_ord: int = 1
  saliency_batch_size: int = 100
  saliency_batches: int = 1
  mask_type: str = 'unstructured'
  nm: tuple[int, int] = (2, 4)
  nm_axis: int = 0
  distribution: str = 'uniform'
  sparsity: float = 0.9
  rules: tuple = ()
  allow_regrow: bool = False
  constrained: bool = False
  l1: float = 0.0
  group_lasso: float = 0.0
  rewind_step: int = -1
  seed: int = 0

  def __post_init__(self):
    super().__post_init__()
    S.check_choice(self.score, tuple(SCORES), 'pruning score')
    S.check_choice(self.distribution, distributions.DISTRIBUTIONS,
                   'pruning distribution')
    S.check_choice(self.mask_type, ('unstructured', 'nm'), 'mask_type')
    if self.magnitude_ord not in (1, 2):
      raise ValueError(f'magnitude_ord must be 1 or 2, got '
                       f'{self.magnitude_ord}')
    for name in ('saliency_batch_size', 'saliency_batches'):
      if getattr(self, name) < 1:
        raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
    if self.distribution == 'std':
      S.check_nonnegative(self.sparsity, 'sparsity (the std quality)')
      S.check_rules(self.rules, 'rules',
                    lambda v, w: S.check_nonnegative(v, w))
    else:
      S.check_rules(self.rules, 'rules', lambda v, w: S.check_range(
          v, w, 0.0, 1.0, hi_open=True))
      S.check_range(self.sparsity, 'sparsity', 0.0, 1.0, hi_open=True)
    S.check_nonnegative(self.l1, 'l1')
    S.check_nonnegative(self.group_lasso, 'group_lasso')
    if self.rewind_step < -1:
      raise ValueError(f'rewind_step must be >= 0 (or -1: off), got '
                       f'{self.rewind_step}')


def check_run(sec: PruningSection, num_steps: int, spe: int) -> None:
  if not sec.constrained:
    check_reaches_target(sec, 'pruning', num_steps, spe)


def build(sec: PruningSection, ctx: interface.Context) -> interface.Plugin:
  """The pruning Plugin.

  Raises:
    ValueError: a rule that matches no parameter, an N:M that does not fit
      a layer; before anything compiles.
  """
  params = ctx.variables['params']
  specs = distributions.layer_specs(
      params, sec.sparsity, sec.distribution, list(sec.rules), sec.mask_type,
      sec.nm, sec.nm_axis)
  given = ctx.inputs.get('pruning', {})
  kwargs = dict(seed=sec.seed, initial_masks=given.get('initial_masks'),
                reset_params=given.get('reset_params'),
                rewind_step=sec.rewind_step if sec.rewind_step >= 0 else None)
  if sec.constrained:
    tx = pruning.projection(specs, **kwargs)
  else:
    tx = pruning.prune(specs, SCORES[sec.score](sec, ctx),
                       sec.make_schedule(ctx.steps_per_epoch),
                       allow_regrow=sec.allow_regrow, **kwargs)
  penalties = []
  if sec.l1:
    penalties.append(pruning.l1_penalty(specs, sec.l1))
  if sec.group_lasso:
    penalties.append(pruning.group_lasso_penalty(specs, sec.group_lasso))
  penalty = (lambda p: sum(f(p) for f in penalties)) if penalties else None

  def report(state, ctx):
    del ctx
    pstate = pruning.find_state(state.opt_state)
    return {'pruning': pruning.sparsity_summary(
        state.params, specs, pstate.max_kept if pstate is not None else None)}

  return interface.Plugin(name='pruning', tx=tx, penalty=penalty,
                          report=report)
