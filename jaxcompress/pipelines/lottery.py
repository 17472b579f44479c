"""Lottery-ticket rounds: train, prune, rewind the survivors, retrain.

Frankle & Carbin 2019, "The lottery ticket hypothesis": iterative magnitude
pruning (IMP) with rewinding. Round 0 trains the dense network and keeps its
weights at step `rewind_step` (0 = the initialization; later steps are the
"rewinding" of Frankle et al. 2020). Round ``r >= 1`` keeps, in every pruned
layer, the ``round((1 - p)^r n)`` largest-magnitude weights of round
``r - 1``'s trained weights among its survivors (`pruning.lottery_masks`;
the output layer at rate `output_prune_rate`), resets the survivors to the
snapshot and trains again. The control of every round trains the same mask
from a fresh random initialization (another seed), which the paper shows
to be worse.

Each round is a stage (`stage.Pipeline`) in workdir/round<r>; masks and
reset weights pass to it in memory (`Context.inputs['pruning']`).

Config: the `lottery` section (`plugins.stages.LotterySection`), and the
`pruning` section for everything but the schedule and sparsity (fixed masks
here).
"""

from __future__ import annotations

import dataclasses
import re

import jax
import numpy as np

from jaxcompress import pruning
from jaxcompress import rules as rules_lib
from jaxcompress.pipelines import stage as stage_lib
from jaxcompress.plugins import registry
from jaxcompress.plugins.pruning import PruningSection


def run(parsed: registry.ParsedConfig, workdir: str | None):
  """Runs the rounds; returns (last state, results with a 'lottery' table)."""
  lt = parsed.stages['lottery']
  sec = parsed.sections.get('pruning') or PruningSection()
  # Fixed masks: the rounds set them; nothing is pruned during training.
  sec = dataclasses.replace(sec, schedule='never', sparsity=0.0)
  base = stage_lib.without(parsed, 'lottery')
  base = base.replace(sections={**base.sections, 'pruning': sec})
  names = ['round0']
  for r in range(1, lt.rounds + 1):
    names += [f'round{r}'] + ([f'round{r}_reinit'] if lt.reinit_control
                              else [])
  with stage_lib.Pipeline(parsed, workdir, names) as pipe:
    if pipe.finished:
      return None, pipe.results()
    rewound = base.replace(sections={
        **base.sections, 'pruning': dataclasses.replace(
            sec, rewind_step=lt.rewind_step)})
    res0 = pipe.stage('round0', rewound)
    rewind = pruning.find_state(res0.state.opt_state).rewind
    params = res0.variables['params']
    prunable = [n for n, leaf in rules_lib.named_leaves(params)
                if np.ndim(leaf) >= 2]
    masks = jax.tree.map(lambda x: np.ones(np.shape(x), bool), params)
    out_re = re.compile(lt.output_layer)
    rows = [dict(round=0, remaining=1.0, error=res0.results['test_error'],
                 reinit_error=None, wall_time_s=res0.results['wall_time_s'])]
    last = res0
    for r in range(1, lt.rounds + 1):
      keep = {n: (1 - (lt.output_prune_rate if out_re.search(n)
                       else lt.prune_rate)) ** r for n in prunable}
      masks = pruning.lottery_masks(last.variables['params'], masks, keep)
      named = dict(rules_lib.named_leaves(masks))
      last = pipe.stage(f'round{r}', base, inputs={'pruning': {
          'initial_masks': masks, 'reset_params': rewind}})
      row = dict(round=r, error=last.results['test_error'],
                 remaining=sum(int(named[n].sum()) for n in prunable)
                 / sum(named[n].size for n in prunable),
                 wall_time_s=last.results['wall_time_s'],
                 layers={n: float(named[n].mean()) for n in prunable},
                 reinit_error=None)
      if lt.reinit_control:
        seed = parsed.settings.seed + 1000 + r
        fresh = res0.model.init(jax.random.key(seed), np.zeros(
            (1,) + tuple(res0.results['input_shape']), np.float32))['params']
        ctrl = pipe.stage(f'round{r}_reinit', base, inputs={'pruning': {
            'initial_masks': masks, 'reset_params': fresh}})
        row['reinit_error'] = ctrl.results['test_error']
        row['wall_time_s'] += ctrl.results['wall_time_s']
      rows.append(row)
    results = {k: v for k, v in last.results.items()
               if k not in ('history', 'config')}
    return last.state, pipe.finish(dict(results, lottery=rows))
