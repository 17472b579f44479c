"""The `structured` section: mask units during training, shrink after.

Fields (`StructuredSection`):

  score: 'l1' | 'l2' (weights of the unit), 'bn_scale', 'mean' | 'mean_abs' |
    'apoz' (activations on `calibration_examples` training images), 'taylor'.
  sparsity: fraction of units each prunable group loses at the end.
  rules: ((regex over group names, sparsity or None), ...), first match wins.
  distribution: 'uniform' (per group) or 'global' (one threshold).
  schedule fields: see `schedule.ScheduleFields` (the schedules of
    `jaxcompress.pruning`).
  slimming_l1: lambda of the L1 penalty on batch-norm scales (0 = off).
  inputs: also make the model's input features (pixels) a group named
    'input' (MLPs: the rows of the first Dense layer); prune it with a rule.
  calibration_examples: images for activation / Taylor scores.
  tie: groups whose widths one module attribute sets keep equal counts.
  finetune_epochs, finetune_learning_rate: second stage of the
    `prune_shrink_finetune` pipeline (the shrunk model trains alone).

The report shrinks the final model (`structured.shrink`), evaluates it, and
records widths, parameters, FLOPs, the largest logit difference to the
masked model, and (if `measure_latency`) its latency.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np

from jaxcompress import metrics
from jaxcompress.plugins import interface
from jaxcompress.plugins import sections as S
from jaxcompress.plugins.schedule import ScheduleFields, check_reaches_target
from jaxcompress.structured import graph as graph_lib
from jaxcompress.structured import removal, slimming, transform
from jaxcompress.structured import scores as scores_lib


@dataclasses.dataclass(frozen=True)
class StructuredSection(ScheduleFields):
  """The `structured` section (see the module docstring)."""
  score: str = 'l1'
  sparsity: float = 0.5
  rules: tuple = ()
  distribution: str = 'uniform'
  slimming_l1: float = 0.0
  inputs: bool = False
  calibration_examples: int = 1024
  tie: bool = True
  finetune_epochs: float = 0.0
  finetune_learning_rate: float = 0.0

  def __post_init__(self):
    super().__post_init__()
    S.check_choice(self.score, scores_lib.SCORES, 'structured score')
    S.check_choice(self.distribution, transform.DISTRIBUTIONS,
                   'structured distribution')
    S.check_range(self.sparsity, 'sparsity', 0.0, 1.0)
    S.check_rules(self.rules, 'rules',
                  lambda v, w: S.check_range(v, w, 0.0, 1.0))
    S.check_nonnegative(self.slimming_l1, 'slimming_l1')
    S.check_positive(self.calibration_examples, 'calibration_examples')
    S.check_nonnegative(self.finetune_epochs, 'finetune_epochs')
    S.check_nonnegative(self.finetune_learning_rate,
                        'finetune_learning_rate')


def check_run(sec: StructuredSection, num_steps: int, spe: int) -> None:
  if sec.sparsity > 0 or sec.rules:
    check_reaches_target(sec, 'structured', num_steps, spe)


def build(sec: StructuredSection, ctx: interface.Context
          ) -> interface.Plugin:
  """The structured-pruning Plugin.

  Raises:
    ValueError: naming the layer, for a rule that removes every unit of a
      group or prunes a group the tracer could not resolve; before compiling.
  """
  model, variables = ctx.model, ctx.variables
  input_shape = tuple(ctx.train_images.shape[1:])
  graph = graph_lib.trace_groups(model, variables, input_shape,
                                 inputs=bool(sec.inputs))
  targets = transform.group_targets(
      graph, sec.sparsity,
      list(sec.rules))
  ties = removal.tie_groups(model, graph, input_shape) if sec.tie else []
  n = sec.calibration_examples
  rng = np.random.default_rng(ctx.settings.seed)
  idx = rng.choice(len(ctx.train_labels), min(n, len(ctx.train_labels)),
                   replace=False)
  score_fn = scores_lib.make_score(
      sec.score, graph, model, ctx.train_images[idx],
      ctx.train_labels[idx], variables.get('batch_stats'),
      groups=list(targets) or None)
  schedule = sec.make_schedule(ctx.steps_per_epoch)
  tx = transform.structured_mask(graph, targets, score_fn, schedule,
                                 sec.distribution, ties)
  penalty = None
  if sec.slimming_l1 > 0:
    penalty = slimming.bn_scale_penalty(
        graph, sec.slimming_l1, list(targets) or None)

  def report(state, ctx):
    if not targets:
      return {}
    return {'structured': shrink_report(model, state.variables(), graph,
                                        state.opt_state, ctx)}

  return interface.Plugin(name='structured', tx=tx, penalty=penalty,
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
  if ctx.settings.measure_latency:
    out['latency_ms'] = metrics.latency_ms(small.apply, small_vars,
                                           ctx.test_images)
  if ctx.workdir:
    out['model_file_bytes'] = metrics.save_variables(
        small_vars, f'{ctx.workdir}/shrunk.msgpack')
  return out
