"""Adaptive compression under a budget: measure, plan, fine-tune, write.

Stages (the `auto` section, `jaxcompress.plugins.auto`):

  1. the trained model: stage 'baseline' (the top-level settings), or the
     finished run in `auto.baseline_workdir`;
  2. measure: every option on every layer alone, on the validation split
     (`validation_examples` held out of the training set; the test set is
     never looked at), into workdir/sensitivity.json (and `auto.table_cache`,
     shared by runs that compress the same model);
  3. plan: the exact allocation of least predicted loss within the budget
     (`jaxcompress.auto.make_plan`), and the loss measured with the whole
     plan applied at once, before fine-tuning;
  4. fine-tune the plan in one run, distilled from the baseline (or the
     run in `auto.teacher_workdir`) when `auto.distill`:
       bytes: gradual magnitude pruning to each kernel's sparsity (cubic
         schedule) + quantization-aware training on each kernel's grid
         (per-tensor, zeros kept) -> stage 'finetune';
       flops, latency: structured pruning to each group's width, then the
         model is physically shrunk and trained alone -> stages
         'structured/...'; a latency plan is planned on a latency model
         fitted to LiteRT files of sampled widths and measured before it
         trains (`jaxcompress.auto.latency`), and the trained model's file
         is timed beside the dense model's;
  5. write and report: bytes plans write model.deepcompressed (weight
     sharing with 2^bits clusters, which holds the trained grid exactly,
     sparse index gaps, LZMA), trimmed to the budget if fine-tuning made
     the weights costlier to code (`auto.save_within`, counted per layer),
     and evaluate the model decoded from it.

results.json: the plan per layer with what the table predicted (loss
increase, bytes) beside what was measured, the budget and whether the
result is within it, the decoded (or shrunk) model's test error.
"""

from __future__ import annotations

import os
import re

import jax
import numpy as np

from jaxcompress import auto, files, metrics, models, saved_runs, structured
from jaxcompress import deep_compression as dc
from jaxcompress.export import convert
from jaxcompress.export import widths as export_widths
from jaxcompress.pipelines import auto_stages, shrink
from jaxcompress.pipelines import stage as stage_lib
from jaxcompress.plugins import registry
from jaxcompress.rules import named_leaves
from jaxcompress.train import feed
from jaxcompress.train import step as step_lib

# Settings a baseline must share with the run that compresses it: the same
# data, the same validation split held out, the same model.
_SAME_DATA = ('dataset', 'train_subset', 'validation_examples')
_SAME = _SAME_DATA + ('model', 'model_kwargs')


def check(parsed: registry.ParsedConfig, workdir: str | None) -> None:
  """What the pipeline needs, checked before anything trains.

  Raises:
    ValueError: no workdir, no validation split, other compression
      sections, or a baseline run of other settings.
  """
  s = parsed.settings
  if workdir is None:
    raise ValueError('the auto pipeline writes its plan and compressed file: '
                     'give it a workdir')
  if s.validation_examples <= 0:
    raise ValueError('the auto pipeline measures on a validation split: set '
                     'validation_examples > 0 (held out of the training set)')
  sec = parsed.stages['auto']
  if not (sec.budget_value > 0 or sec.budget_ratio > 0):
    raise ValueError('auto: no budget; set auto.budget_value (bytes or FLOPs) '
                     'or auto.budget_ratio (x smaller than the baseline)')
  if parsed.sections:
    raise ValueError(f'the auto pipeline builds its own pruning, quantization '
                     f'and distillation; remove the sections '
                     f'{sorted(parsed.sections)}')
  n_train = len(feed.load_data(s).train_labels)
  auto_stages.finetune_config(parsed, n_train)
  if sec.budget == 'bytes' and sec.fit_epochs > 0:
    auto_stages.finetune_config(parsed, n_train, fit=True)
  if sec.baseline_workdir:
    _check_run(parsed, 'baseline_workdir', _SAME)
  if sec.teacher_workdir:
    _check_run(parsed, 'teacher_workdir', _SAME_DATA)


def _check_run(parsed, field: str, keys) -> None:
  """The finished run in `auto.<field>` ran with this run's `keys`."""
  where = getattr(parsed.stages['auto'], field)
  path = os.path.join(where, 'results.json')
  if not os.path.exists(path):
    raise ValueError(f'auto.{field}: no finished run in {where!r}')
  cfg = files.read_json(path)['config']
  for k in keys:
    mine = registry.resolved(parsed)[k]
    if cfg.get(k, 0 if k == 'validation_examples' else None) != mine:
      raise ValueError(
          f'auto.{field} {where!r} ran with {k}={cfg.get(k)!r}, this run '
          f'has {k}={mine!r}' + (
              f': the {field.split("_")[0]} trained on (part of) the '
              'validation split' if k == 'validation_examples' else ''))


def run(parsed: registry.ParsedConfig, workdir: str | None):
  """Runs the stages; returns the last TrainState and the results."""
  check(parsed, workdir)
  sec = parsed.stages['auto']
  s = parsed.settings
  names = ([] if sec.baseline_workdir else ['baseline']) + (
      ['finetune'] if sec.budget == 'bytes'
      else ['structured/prune', 'structured/finetune'])
  with stage_lib.Pipeline(parsed, workdir, names) as pipe:
    if pipe.finished:
      return None, pipe.results()
    if sec.baseline_workdir:
      model, variables, base = saved_runs.load_run(sec.baseline_workdir)
      base_dir = sec.baseline_workdir
    else:
      b = pipe.stage('baseline', stage_lib.without(parsed, 'auto'))
      model, variables, base = b.model, b.variables, b.results
      base_dir = os.path.join(workdir, 'baseline')
    sharding = jax.sharding.NamedSharding(step_lib.data_mesh(),
                                          jax.sharding.PartitionSpec('data'))
    ds = feed.load_data(s)
    val = step_lib.make_evaluate(model, s.eval_batch_size, sharding,
                                 *feed.load_validation(s))
    test = step_lib.make_evaluate(model, s.eval_batch_size, sharding,
                                  ds.test_images, ds.test_labels)
    ctx = dict(pipe=pipe, sec=sec, model=model, variables=variables,
               val=val, test=test, ds=ds, base_dir=base_dir)
    state, results = (_bytes if sec.budget == 'bytes' else _flops)(
        parsed, **ctx)
    results.update(
        baseline_test_error=base['test_error'],
        baseline_val_loss=val(variables)['loss'],
        baseline_val_error=val(variables)['error'],
        float_file_bytes=base['model_file_bytes'],
        validation_examples=s.validation_examples)
    if sec.teacher_workdir:
      t = files.read_json(os.path.join(sec.teacher_workdir, 'results.json'))
      results.update(teacher_model=t['config']['model'],
                     teacher_test_error=t['test_error'])
    return state, pipe.finish(results)


def _log(msg: str) -> None:
  print(msg, flush=True)


def _bytes(parsed, *, pipe, sec, model, variables, val, test, ds, base_dir):
  params = variables['params']
  layers = [n for n, w in named_leaves(params) if re.search(sec.layers, n)
            and np.ndim(w) >= 2]
  if not layers:
    raise ValueError(f'auto.layers {sec.layers!r} matches no kernel of '
                     f'{parsed.settings.model}')
  float_bytes = os.path.getsize(os.path.join(base_dir, 'model.msgpack'))
  budget = sec.budget_value or float_bytes / sec.budget_ratio
  loss = lambda p: val(dict(variables, params=p))['loss']
  bits = [None if b == dc.FLOAT_BITS else b for b in sec.bits]
  if sec.allocation == 'uniform':
    # One sparsity and bits everywhere, the sparsity filling the budget.
    table = auto_stages.measured_table(
        parsed, pipe.workdir, variables, [layers, 'uniform', bits, budget],
        lambda: auto.measure_uniform(params, loss, layers, bits, budget,
                                     sec.symmetric, log=_log), _log)
  else:
    options = auto.unstructured_options(sec.sparsities, sec.bits)
    table = auto_stages.measured_table(
        parsed, pipe.workdir, variables, [layers, options],
        lambda: auto.measure_unstructured(params, loss, layers, options,
                                          sec.symmetric, log=_log), _log)
  plan = auto.make_plan(table, budget, sec.allocation,
                        symmetric=sec.symmetric, distill=sec.distill)
  _log(f'auto: plan for {budget:,.0f} bytes: ' + '; '.join(
      f'{c.layer} {c.option.describe()}' for c in plan.layers))
  one_shot = val(dict(variables, params=plan.compress(params)))

  teacher = ({'distillation': {'teacher': (model, variables)}}
             if sec.distill and not sec.teacher_workdir else None)
  n_train = len(ds.train_labels)
  ft_cfg = auto_stages.finetune_config(parsed, n_train, plan)
  ft = pipe.stage('finetune', ft_cfg, init=variables, inputs=teacher)
  stored = auto_stages.trained_weights(ft_cfg, ft.variables['params'],
                                       ft.state.aux)
  path = os.path.join(pipe.workdir, 'model.deepcompressed')
  rules = plan.sharing_rules()
  n, fit = dc.save(stored, rules, path), None
  if n > budget and sec.fit_epochs > 0:
    # Fine-tuning left the weights costlier to code than predicted: prune
    # the costliest kernel further and retrain briefly.
    layer, k = auto.extra_pruning(stored, rules, layers, n - budget)
    size = dict(named_leaves(stored))[layer].size
    zeros = size - np.count_nonzero(dict(named_leaves(stored))[layer])
    fit = {'layer': layer, 'sparsity': (zeros + k) / size,
           'file_bytes_before': n,
           'test_error_before': ft.results['test_error']}
    _log(f'auto: {n:,} bytes is over the budget; {layer} pruned to '
         f'{fit["sparsity"]:.2%} and retrained')
    fit_cfg = auto_stages.finetune_config(
        parsed, n_train, plan.with_sparsity(layer, fit['sparsity']),
        fit=True)
    ft = pipe.stage('fit', fit_cfg, init=ft.variables, inputs=teacher)
    stored = auto_stages.trained_weights(fit_cfg, ft.variables['params'],
                                         ft.state.aux)
  stored, n, trimmed = auto.save_within(stored, rules, layers, path, budget)
  decoded = dict(ft.variables, params=dc.load(path, stored))
  flat = dict(named_leaves(decoded['params']))
  per_layer = []
  for c in plan.layers:
    k = np.asarray(flat[c.layer])
    per_layer.append({
        'layer': c.layer, 'plan': c.option.describe(),
        'sparsity': c.option.sparsity, 'bits': c.option.bits,
        'clusters': c.option.clusters,
        'predicted_delta_loss': c.predicted_delta_loss,
        'predicted_bytes': c.predicted_cost,
        'measured_bytes': dc.kernel_bytes(k, auto.file_bits(c.option)),
        'measured_sparsity': 1.0 - np.count_nonzero(k) / k.size,
        'trimmed_to_fit': trimmed[c.layer],
        'distinct_nonzero_values': int(np.unique(k[k != 0]).size)})
  after = val(decoded)
  results = {k: v for k, v in ft.results.items()
             if k not in ('config', 'history', 'layers')}
  results.update(metrics.summarize(model, decoded, ds.test_images[:1]))
  results.pop('layers')
  results.update(
      plan=plan.to_json(), layers_plan=per_layer, budget_bytes=budget,
      predicted_file_bytes=plan.predicted_cost, compressed_file_bytes=n,
      within_budget=n <= budget, compression_ratio=float_bytes / n,
      predicted_val_loss=plan.predicted_loss,
      one_shot_val_loss=one_shot['loss'], one_shot_val_error=one_shot['error'],
      val_loss=after['loss'], val_error=after['error'],
      finetune_test_error=ft.results['test_error'], fit=fit,
      compressed_test_error=test(decoded)['error'])
  results['test_error'] = results['compressed_test_error']
  _log(f'auto: {n:,} bytes ({float_bytes / n:.1f}x), decoded test error '
       f'{results["compressed_test_error"]:.2%}')
  return ft.state, results


def _flops(parsed, *, pipe, sec, model, variables, val, test, ds, base_dir):
  """A widths plan: a FLOPs or a latency budget."""
  del test
  s = parsed.settings
  shape = tuple(ds.train_images.shape[1:])
  graph = structured.trace_groups(model, variables, shape, inputs=sec.inputs)
  groups = [g.name for g in graph.prunable if re.search(sec.layers, g.name)]
  if not groups:
    raise ValueError(f'auto.layers {sec.layers!r} matches no prunable group '
                     f'of {s.model}; groups are {graph.names()}')
  fm = auto.FlopsModel.from_model(model, variables, graph,
                                  ds.train_images[:1])
  timer = (export_widths.WidthTimer(
      model, variables, graph, ds.train_images[:1],
      quantize=sec.latency_quantize,
      calibration_images=_calibration(sec, ds))
      if sec.budget == 'latency' else None)
  table = auto_stages.measured_table(
      parsed, pipe.workdir, variables, [groups],
      lambda: auto.measure_widths(graph, variables, lambda v: val(v)['loss'],
                                  groups, sec.widths, log=_log), _log)
  if timer is None:
    budget = sec.budget_value or fm.dense() / sec.budget_ratio
    plan = auto.make_plan(table, budget, sec.allocation, cost_model=fm,
                          distill=sec.distill)
    unit = 'FLOPs'
  else:
    budget = sec.budget_value or timer.dense_ms / sec.budget_ratio
    plan, latency = _latency_plan(sec, table, fm, timer, groups, budget)
    unit = 'ms'
  _log(f'auto: plan for {budget:,.4g} {unit}: ' + '; '.join(
      f'{c.layer} {c.option.describe()}' for c in plan.layers))
  one_shot = val(auto.mask_widths(graph, variables, plan.widths()))

  cfg = auto_stages.finetune_config(parsed, len(ds.train_labels), plan,
                                    base_dir)
  state, r = shrink.run(cfg, os.path.join(pipe.workdir, 'structured'))
  kwargs = {**s.model_kwargs, **r.get('shrunk_model_kwargs', {})}
  small = models.get_model(s.model, **saved_runs.model_kwargs(kwargs))
  small_vars = (state.variables() if state is not None else
                saved_runs.load_run(os.path.join(
                    pipe.workdir, 'structured', 'finetune'))[1])
  small_vars = jax.device_get(small_vars)
  after = val(small_vars, small.apply)
  results = {k: v for k, v in r.items()
             if k not in ('config', 'history', 'layers')}
  results.update(
      plan=plan.to_json(), predicted_val_loss=plan.predicted_loss,
      one_shot_val_loss=one_shot['loss'], one_shot_val_error=one_shot['error'],
      val_loss=after['loss'], val_error=after['error'],
      predicted_flops=fm(plan.widths()), dense_flops=fm.dense(),
      flops_ratio=fm.dense() / r['flops_dense'])
  if timer is None:
    results.update(budget_flops=budget,
                   within_budget=r['flops_dense'] <= budget)
    _log(f'auto: {r["flops_dense"]:,} FLOPs ({results["flops_ratio"]:.1f}x '
         f'fewer), test error {r["test_error"]:.2%}')
    return state, results
  # The trained shrunk model's own file, timed beside the dense one.
  final = convert.to_tflite(small, small_vars, input_shape=shape,
                            quantize=sec.latency_quantize,
                            calibration_images=_calibration(sec, ds))
  ms = timer.relative([final])[0]
  results.update(
      budget_ms=budget, latency_quantize=sec.latency_quantize,
      predicted_latency_ms=plan.predicted_cost, latency_ms_file=ms,
      dense_latency_ms=timer.dense_ms, speedup=timer.dense_ms / ms,
      within_budget=ms <= budget, latency=latency)
  _log(f'auto: {ms:.4f} ms a call ({results["speedup"]:.2f}x faster than '
       f'the dense file), test error {r["test_error"]:.2%}')
  return state, results


def _calibration(sec, ds):
  return ds.train_images[:256] if sec.latency_quantize == 'int8' else None


def _latency_plan(sec, table, fm, timer, groups, budget):
  """The latency model fitted to sampled widths, and the plan measured
  within `budget` (`auto.plan_by_measurement`)."""
  sizes = {g: fm.sizes[g] for g in groups}
  widths = auto.sample_widths(sizes, sec.widths, sec.latency_samples)
  ms = timer.many(widths)
  model = auto.LatencyModel.fit(fm, widths, ms)
  _log(f'auto: latency model fitted to {len(ms)} files: dense '
       f'{timer.dense_ms:.4f} ms, intercept {model.intercept:.4f} ms')
  # Plans must measure `latency_margin` under the budget (plugins/auto.py).
  plan, model, tried = auto.plan_by_measurement(
      table, budget * (1.0 - sec.latency_margin), model, timer,
      allocation=sec.allocation,
      distill=sec.distill, samples=list(zip(widths, ms)),
      max_tries=sec.latency_tries, log=_log)
  fit = [{'widths': w, 'measured_ms': m, 'predicted_ms': float(model(w))}
         for w, m in zip(widths, ms)]
  return plan, {'model': model.to_json(), 'fit': fit,
                'plans_measured': tried, 'margin': sec.latency_margin}
