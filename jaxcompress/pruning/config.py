"""From the `config.pruning` section to a Plugin.

Fields of the section (defaults in `default_section()`):

  score: 'magnitude' | 'random' | 'saliency' | 'snip'
  magnitude_ord: 1 (|w|) or 2 (w^2)
  saliency_batch_size, saliency_batches: data the gradient scores see
  mask_type: 'unstructured' | 'nm';  nm: (N, M);  nm_axis: axis of the groups
  distribution: 'uniform' | 'global' | 'erk' | 'std' (Han's quality x std)
  sparsity: final sparsity in [0, 1) (the quality parameter under 'std')
  rules: ((regex, sparsity or None), ...) per-layer overrides
  schedule: 'one_shot' | 'iterative' | 'polynomial' | 'every_step' | 'never'
  units: 'steps' or 'epochs' for the step fields below
  step: one-shot step
  steps, fractions: iterative pruning steps and fractions of the target
  begin, end, every, power, initial_fraction: polynomial (Zhu & Gupta)
  allow_regrow: recompute masks over all weights (IHT projection)
  constrained: True -> projection onto nnz <= k after every update
  l1, group_lasso: penalty coefficients (0 = off)
  mask_file: .npz of initial masks (lottery rounds), '' = none
  reset_file: .npz of parameters that replace the weights at step 0
  rewind_step: keep a snapshot of the parameters at this step (-1 = off)
  seed: PRNG seed of random scores

The plugin's report adds ``pruning`` (the `sparsity_summary` of the final
parameters, with ``max_kept`` per layer) to results.json.
"""

from __future__ import annotations

from typing import Any

import jax
import ml_collections
import numpy as np

from jaxcompress import plugin as plugin_lib
from jaxcompress import rules as rules_lib
from jaxcompress.pruning import (
  constrained,
  distributions,
  schedules,
  scores,
  summary,
  transform,
)

SCORES = ('magnitude', 'random', 'saliency', 'snip')
SCHEDULES = ('one_shot', 'iterative', 'polynomial', 'every_step', 'never')


def default_section() -> ml_collections.ConfigDict:
  """A `config.pruning` section with every field at its default."""
  c = ml_collections.ConfigDict()
  c.score = 'magnitude'
  c.magnitude_ord = 1
  c.saliency_batch_size = 100
  c.saliency_batches = 1
  c.mask_type = 'unstructured'
  c.nm = (2, 4)
  c.nm_axis = 0
  c.distribution = 'uniform'
  c.sparsity = 0.9
  c.rules = ()
  c.schedule = 'one_shot'
  c.units = 'steps'
  c.step = 0.0
  c.steps = ()
  c.fractions = ()
  c.begin = 0.0
  c.end = 1.0
  c.every = 1.0
  c.power = 3.0
  c.initial_fraction = 0.0
  c.allow_regrow = False
  c.constrained = False
  c.l1 = 0.0
  c.group_lasso = 0.0
  c.mask_file = ''
  c.reset_file = ''
  c.rewind_step = -1
  c.seed = 0
  return c


def _get(section, name):
  return section[name] if name in section else default_section()[name]


def make_schedule(section, steps_per_epoch: int = 1) -> schedules.Schedule:
  """The schedule the section names (step fields scaled by `units`)."""
  name = _get(section, 'schedule')
  units = _get(section, 'units')
  if units not in ('steps', 'epochs'):
    raise ValueError(f"pruning.units must be 'steps' or 'epochs', got "
                     f"{units!r}.")
  scale = steps_per_epoch if units == 'epochs' else 1
  at = lambda v: int(round(float(v) * scale))
  if name == 'one_shot':
    return schedules.OneShot(at(_get(section, 'step')))
  if name == 'iterative':
    fr = tuple(_get(section, 'fractions')) or None
    return schedules.Iterative([at(s) for s in _get(section, 'steps')], fr)
  if name == 'polynomial':
    return schedules.Polynomial(
        at(_get(section, 'begin')), at(_get(section, 'end')),
        max(at(_get(section, 'every')), 1), float(_get(section, 'power')),
        float(_get(section, 'initial_fraction')))
  if name == 'every_step':
    return schedules.EveryStep()
  if name == 'never':
    return schedules.Never()
  raise ValueError(f'Unknown pruning schedule {name!r}; known: {SCHEDULES}.')


def check_config(section) -> None:
  """Validates the section alone (no parameters needed), before any work.

  Raises:
    ValueError: unknown names, a sparsity outside [0, 1), a schedule that ends
      before it begins, negative penalties.
  """
  if _get(section, 'score') not in SCORES:
    raise ValueError(f"Unknown pruning score {_get(section, 'score')!r}; "
                     f'known: {SCORES}.')
  dist = _get(section, 'distribution')
  if dist not in distributions.DISTRIBUTIONS:
    raise ValueError(f'Unknown pruning distribution {dist!r}; known: '
                     f'{distributions.DISTRIBUTIONS}.')
  if dist != 'std':
    distributions.check_sparsity(_get(section, 'sparsity'), 'pruning.sparsity')
    for pattern, value in _get(section, 'rules'):
      if value is not None:
        distributions.check_sparsity(value, f'sparsity of rule {pattern!r}')
  make_schedule(section)
  for name in ('l1', 'group_lasso'):
    if _get(section, name) < 0:
      raise ValueError(f'pruning.{name} must be >= 0, got '
                       f'{_get(section, name)}.')


def save_tree(path: str, tree: Any) -> None:
  """Writes a pytree's leaves to .npz keyed by their '/'-joined paths."""
  np.savez(path, **{name: np.asarray(x)
                    for name, x in rules_lib.named_leaves(tree)})


def load_tree(path: str, like: Any) -> Any:
  """Reads `save_tree`'s file back into the structure of `like`."""
  with np.load(path) as f:
    data = dict(f)
  names = [n for n, _ in rules_lib.named_leaves(like)]
  missing = [n for n in names if n not in data]
  if missing:
    raise ValueError(f'{path} lacks parameters {missing}.')
  leaves, treedef = jax.tree.flatten(like)
  return jax.tree.unflatten(treedef, [data[n] for n in names])


def plugin_from_config(section, ctx: plugin_lib.Context) -> plugin_lib.Plugin:
  """The pruning Plugin for `config.pruning`.

  Raises:
    ValueError: any bad field, a rule that matches no parameter, an N:M that
      does not fit a layer; all before anything compiles.
  """
  check_config(section)
  params = ctx.variables['params']
  specs = distributions.layer_specs(
      params, _get(section, 'sparsity'), _get(section, 'distribution'),
      [tuple(r) for r in _get(section, 'rules')], _get(section, 'mask_type'),
      tuple(_get(section, 'nm')), int(_get(section, 'nm_axis')))
  score = _get(section, 'score')
  if score == 'magnitude':
    score_fn = scores.magnitude(int(_get(section, 'magnitude_ord')))
  elif score == 'random':
    score_fn = scores.random()
  else:
    batches = 1 if score == 'snip' else int(_get(section, 'saliency_batches'))
    score_fn = scores.saliency(ctx.loss, ctx.train_images, ctx.train_labels,
                               int(_get(section, 'saliency_batch_size')),
                               batches, int(_get(section, 'seed')))
  schedule = make_schedule(section, ctx.steps_per_epoch)
  masks = reset = None
  if _get(section, 'mask_file'):
    masks = load_tree(_get(section, 'mask_file'), params)
  if _get(section, 'reset_file'):
    reset = load_tree(_get(section, 'reset_file'), params)
  rewind = int(_get(section, 'rewind_step'))
  kwargs = dict(seed=int(_get(section, 'seed')), initial_masks=masks,
                reset_params=reset, rewind_step=rewind if rewind >= 0 else None)
  if _get(section, 'constrained'):
    tx = constrained.projection(specs, **kwargs)
  else:
    tx = transform.prune(specs, score_fn, schedule,
                         allow_regrow=bool(_get(section, 'allow_regrow')),
                         **kwargs)
  penalties = []
  if _get(section, 'l1'):
    penalties.append(constrained.l1_penalty(specs, float(_get(section, 'l1'))))
  if _get(section, 'group_lasso'):
    penalties.append(constrained.group_lasso_penalty(
        specs, float(_get(section, 'group_lasso'))))
  penalty = None
  if penalties:
    penalty = lambda p: sum(f(p) for f in penalties)

  def report(state, ctx):
    del ctx
    pstate = transform.find_state(state.opt_state)
    rep = summary.sparsity_summary(
        state.params, specs, pstate.max_kept if pstate is not None else None)
    return {'pruning': rep}

  return plugin_lib.Plugin(name='pruning', tx=tx, penalty=penalty,
                           report=report)
