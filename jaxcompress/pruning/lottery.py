"""Lottery-ticket rounds: train, prune, rewind the survivors, retrain.

Frankle & Carbin 2019, "The lottery ticket hypothesis": iterative magnitude
pruning (IMP) with rewinding. Round 0 trains the dense network and snapshots
its weights at step `rewind_step` (0 = the initialization; later steps are
the "rewinding" of Frankle et al. 2020). Round ``r >= 1`` keeps, in every
pruned layer, the ``round((1 - p)^r n)`` largest-magnitude weights of round
``r - 1``'s trained weights among its survivors (the output layer at rate
``p / 2``, as in the paper), resets the survivors to the snapshot and trains
again. The control of every round uses the same mask with a fresh random
initialization (another seed), which the paper shows to be worse.

Each training run is `jaxcompress.train.train_and_evaluate` on its own
sub-workdir; masks and reset weights travel through .npz files named in the
run's `config.pruning` (`mask_file`, `reset_file`), so every round is an
ordinary, resumable run.

Config (`config.lottery`): rounds, prune_rate, output_prune_rate, output_layer
(regex), rewind_step, reinit_control (bool).
"""

from __future__ import annotations

import copy
import json
import os
import re

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from jaxcompress import models
from jaxcompress import rules as rules_lib
from jaxcompress.pruning import config as config_lib
from jaxcompress.pruning import masks as masks_lib
from jaxcompress.pruning import transform


def default_lottery() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.rounds = 5
  c.prune_rate = 0.2
  c.output_prune_rate = 0.1
  c.output_layer = 'fc3'
  c.rewind_step = 0
  c.reinit_control = True
  return c


def next_masks(params, masks, keep_fraction: dict) -> dict:
  """Per-layer exact-count magnitude masks among the current survivors."""
  out = {}
  for name, w in rules_lib.named_leaves(params):
    if name not in keep_fraction:
      continue
    m = masks[name]
    score = jnp.where(m, jnp.abs(jnp.asarray(w)), -jnp.inf)
    k = int(round(keep_fraction[name] * w.size))
    out[name] = np.asarray(masks_lib.topk_mask(score, k))
  return out


def run(config: ml_collections.ConfigDict, workdir: str | None):
  """Runs the rounds; returns (last state, results with a 'lottery' table)."""
  from jaxcompress import train  # the lead's loop; imported lazily
  lt = default_lottery()
  if 'lottery' in config:
    lt.update(config.lottery)
  if lt.rounds < 1 or not 0 < lt.prune_rate < 1:
    raise ValueError('lottery needs rounds >= 1 and 0 < prune_rate < 1, got '
                     f'{lt.rounds}, {lt.prune_rate}.')
  workdir = workdir or '/tmp/lottery'
  base = ml_collections.ConfigDict(config.to_dict())
  base.entry = 'jaxcompress.train:train_and_evaluate'
  if 'lottery' in base:
    del base['lottery']
  section = config_lib.default_section()
  if 'pruning' in config:
    section.update(config.pruning)
  section.schedule = 'never'
  section.sparsity = 0.0

  def train_round(name, mask_file='', reset_file='', rewind=-1):
    c = copy.deepcopy(base)
    s = copy.deepcopy(section)
    s.mask_file, s.reset_file, s.rewind_step = mask_file, reset_file, rewind
    c.pruning = s
    return train.train_and_evaluate(c, os.path.join(workdir, name))

  state, res = train_round('round0', rewind=lt.rewind_step)
  pstate = transform.find_state(state.opt_state)
  rewind = pstate.rewind
  names = [n for n, leaf in rules_lib.named_leaves(state.params)
           if np.ndim(leaf) >= 2]
  masks = {n: np.ones(np.shape(x), bool)
           for n, x in rules_lib.named_leaves(state.params)}
  out_re = re.compile(lt.output_layer)
  rows = [dict(round=0, remaining=1.0, error=res['test_error'],
               reinit_error=None, wall_time_s=res['wall_time_s'])]
  model = models.get_model(config.model, **config.model_kwargs)
  for r in range(1, lt.rounds + 1):
    keep = {n: (1 - (lt.output_prune_rate if out_re.search(n)
                     else lt.prune_rate)) ** r for n in names}
    masks.update(next_masks(state.params, masks, keep))
    rdir = os.path.join(workdir, f'round{r}')
    os.makedirs(rdir, exist_ok=True)
    mask_file = os.path.join(rdir, 'masks.npz')
    reset_file = os.path.join(rdir, 'reset.npz')
    config_lib.save_tree(mask_file, _like(state.params, masks))
    config_lib.save_tree(reset_file, rewind)
    state, res = train_round(f'round{r}', mask_file, reset_file)
    row = dict(round=r, error=res['test_error'],
               remaining=sum(int(masks[n].sum()) for n in names)
               / sum(masks[n].size for n in names),
               wall_time_s=res['wall_time_s'],
               layers={n: float(masks[n].mean()) for n in names},
               reinit_error=None)
    if lt.reinit_control:
      key = jax.random.key(config.seed + 1000 + r)
      fresh = model.init(key, jnp.zeros((1, 28, 28, 1)))['params']
      reinit_file = os.path.join(rdir, 'reinit.npz')
      config_lib.save_tree(reinit_file, fresh)
      _, res_c = train_round(f'round{r}_reinit', mask_file, reinit_file)
      row['reinit_error'] = res_c['test_error']
      row['wall_time_s'] += res_c['wall_time_s']
    rows.append(row)
  results = dict(res, lottery=rows)
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump({k: v for k, v in results.items() if k != 'history'}, f,
              indent=1, default=str)
  return state, results


def _like(params, named):
  leaves, treedef = jax.tree.flatten(params)
  names = [n for n, _ in rules_lib.named_leaves(params)]
  return jax.tree.unflatten(treedef, [named[n] for n in names])
