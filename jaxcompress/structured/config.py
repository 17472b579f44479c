"""`config.structured` -> a Plugin: mask units during training, shrink after.

Fields of the section (defaults in `default_section`):

  score: 'l1' | 'l2' (weights of the unit), 'bn_scale', 'mean' | 'mean_abs' |
    'apoz' (activations on `calibration_examples` training images), 'taylor'.
  sparsity: fraction of units each prunable group loses at the end.
  rules: ((regex over group names, sparsity or None), ...), first match wins.
  distribution: 'uniform' (per group) or 'global' (one threshold).
  schedule, units, step, steps, fractions, begin, end, every, power,
    initial_fraction: exactly as in `config.pruning` (the schedules of
    `jaxcompress.pruning`).
  slimming_l1: lambda of the L1 penalty on batch-norm scales (0 = off).
  inputs: also make the model's input features (pixels) a group named
    'input' (MLPs: the rows of the first Dense layer); prune it with a rule.
  calibration_examples: images for activation / Taylor scores.
  tie: groups whose widths one module attribute sets keep equal counts.
  finetune_epochs, finetune_learning_rate: second stage of
    `experiment.prune_shrink_finetune` (the shrunk model trains alone).

The report shrinks the final model (`removal.shrink`), evaluates it, and
records widths, parameters, FLOPs, the largest logit difference to the
masked model, and (if `config.measure_latency`) its latency.
"""

from __future__ import annotations

import os

import jax
import ml_collections
import numpy as np

from jaxcompress import metrics
from jaxcompress import plugin as plugin_lib
from jaxcompress.pruning import config as pruning_config
from jaxcompress.structured import graph as graph_lib
from jaxcompress.structured import removal, slimming, transform
from jaxcompress.structured import scores as scores_lib

__all__ = ['default_section', 'check_config', 'plugin_from_config']


def default_section() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.score = 'l1'
  c.sparsity = 0.5
  c.rules = ()
  c.distribution = 'uniform'
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
  c.slimming_l1 = 0.0
  c.inputs = False
  c.calibration_examples = 1024
  c.tie = True
  # Shrink-then-finetune (experiment.prune_shrink_finetune): epochs and
  # learning rate of the second stage, which trains the shrunk model.
  c.finetune_epochs = 0.0
  c.finetune_learning_rate = 0.0
  return c


def _get(section, name):
  return section[name] if name in section else default_section()[name]


def check_config(section) -> None:
  """Validates the section alone, before any work.

  Raises:
    ValueError: unknown field, score or distribution, sparsity outside
      [0, 1], negative slimming strength, a schedule that does not line up.
  """
  unknown = set(section.keys()) - set(default_section().keys())
  if unknown:
    raise ValueError(f'Unknown structured field(s) {sorted(unknown)}; known: '
                     f'{sorted(default_section().keys())}')
  if _get(section, 'score') not in scores_lib.SCORES:
    raise ValueError(f"Unknown structured score {_get(section, 'score')!r}; "
                     f'known: {scores_lib.SCORES}')
  if _get(section, 'distribution') not in transform.DISTRIBUTIONS:
    raise ValueError(f"Unknown structured distribution "
                     f"{_get(section, 'distribution')!r}; known: "
                     f'{transform.DISTRIBUTIONS}')
  s = float(_get(section, 'sparsity'))
  if not 0.0 <= s <= 1.0:
    raise ValueError(f'structured.sparsity must lie in [0, 1], got {s}')
  if float(_get(section, 'slimming_l1')) < 0:
    raise ValueError('structured.slimming_l1 must be >= 0')
  pruning_config.make_schedule(section)


def plugin_from_config(section, ctx: plugin_lib.Context) -> plugin_lib.Plugin:
  """The structured-pruning Plugin for `config.structured`.

  Raises:
    ValueError: naming the layer, for a rule that removes every unit of a
      group or prunes a group the tracer could not resolve; before compiling.
  """
  check_config(section)
  model, variables = ctx.model, ctx.variables
  input_shape = tuple(ctx.train_images.shape[1:])
  graph = graph_lib.trace_groups(model, variables, input_shape,
                                 inputs=bool(_get(section, 'inputs')))
  targets = transform.group_targets(
      graph, float(_get(section, 'sparsity')),
      [tuple(r) for r in _get(section, 'rules')])
  ties = removal.tie_groups(model, graph, input_shape) if _get(
      section, 'tie') else []
  n = int(_get(section, 'calibration_examples'))
  rng = np.random.default_rng(ctx.config.seed)
  idx = rng.choice(len(ctx.train_labels), min(n, len(ctx.train_labels)),
                   replace=False)
  score_fn = scores_lib.make_score(
      _get(section, 'score'), graph, model, ctx.train_images[idx],
      ctx.train_labels[idx], variables.get('batch_stats'),
      groups=list(targets) or None)
  schedule = pruning_config.make_schedule(section, ctx.steps_per_epoch)
  tx = transform.structured_mask(graph, targets, score_fn, schedule,
                                 _get(section, 'distribution'), ties)
  penalty = None
  if float(_get(section, 'slimming_l1')) > 0:
    penalty = slimming.bn_scale_penalty(
        graph, float(_get(section, 'slimming_l1')), list(targets) or None)

  def report(state, ctx):
    if not targets:
      return {}
    return {'structured': shrink_report(model, state.variables(), graph,
                                        state.opt_state, ctx)}

  return plugin_lib.Plugin(name='structured', tx=tx, penalty=penalty,
                           report=report)


def shrink_report(model, variables, graph, opt_state, ctx) -> dict:
  """Shrinks the masked model and measures it beside the dense one."""
  st = transform.find_state(opt_state)
  keep = ({k: np.asarray(v) for k, v in st.masks.items()} if st is not None
          else removal.kept_units(graph, variables))
  input_shape = tuple(ctx.test_images.shape[1:])
  small, small_vars = removal.shrink(model, variables, keep, graph,
                                     input_shape)
  x = ctx.test_images[:256]
  diff = float(np.max(np.abs(
      np.asarray(jax.jit(model.apply)(variables, x))
      - np.asarray(jax.jit(small.apply)(small_vars, x)))))
  ev = ctx.evaluate(small_vars, small.apply)
  dense = metrics.summarize(model, variables, ctx.test_images[:1])
  shr = metrics.summarize(small, small_vars, ctx.test_images[:1])
  out = {
      'widths': {g.name: int(np.sum(keep[g.name])) if g.name in keep
                 else g.size for g in graph.groups},
      'dense_widths': {g.name: g.size for g in graph.groups},
      'module': repr(small),
      'test_error': ev['error'],
      'num_params': shr['num_params'],
      'dense_num_params': dense['num_params'],
      'flops': shr['flops_dense'],
      'dense_flops': dense['flops_dense'],
      'flops_ratio': dense['flops_dense'] / max(shr['flops_dense'], 1),
      'max_logit_diff_vs_masked': diff,
  }
  if ctx.config.get('measure_latency', False):
    out['latency_ms'] = metrics.latency_ms(small.apply, small_vars,
                                           ctx.test_images)
  if ctx.workdir:
    out['model_file_bytes'] = metrics.save_variables(
        small_vars, os.path.join(ctx.workdir, 'shrunk.msgpack'))
  return out
