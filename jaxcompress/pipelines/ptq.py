"""Post-training quantization and QAT fine-tuning of a float model.

  1. the float model: trained as stage 'float' (or taken from the finished
     run in `ptq.float_workdir`, so several experiments share one model);
  2. each PTQ variant in `ptq.variants` (name, overrides of the
     `quantization` section): batch norm folded, quantized, calibrated and
     measured (`quantization.quantized_report`), files in workdir/ptq/<name>;
  3. each QAT variant in `ptq.qat` (name, overrides, plus `epochs` and
     `learning_rate`): fine-tuned quantization-aware from the float weights
     (handed over in memory) as stage 'qat/<name>', measured the same way.

Results: results['ptq'][name] and results['qat'][name] hold each variant's
report (QAT also its fine-tuning's fake-quant test error).
"""

from __future__ import annotations

import os

from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxcompress import quantization as Q
from jaxcompress import saved_runs
from jaxcompress.pipelines import stage as stage_lib
from jaxcompress.plugins import quantization as qplugin
from jaxcompress.plugins import registry
from jaxcompress.train import feed
from jaxcompress.train import step as step_lib


def run(parsed: registry.ParsedConfig, workdir: str | None):
  """Float training, then the PTQ and QAT variants the config lists.

  Returns:
    (the last TrainState, results), results also in workdir/results.json.
  """
  spec = parsed.stages['ptq']
  base = parsed.sections.get('quantization') or qplugin.QuantizationSection()
  variants = spec.variant_sections(base, 'variants')
  qats = spec.variant_sections(base, 'qat')
  float_cfg = stage_lib.without(parsed, 'quantization', 'ptq')
  s = parsed.settings
  names = (['float'] if not spec.float_workdir else []) + [
      f'qat/{n}' for n, _, _ in qats]
  with stage_lib.Pipeline(parsed, workdir, names) as pipe:
    if pipe.finished:
      return None, pipe.results()
    if spec.float_workdir:
      model, variables, float_results = saved_runs.load_run(spec.float_workdir)
      state = None
    else:
      f = pipe.stage('float', float_cfg)
      model, variables, float_results, state = (f.model, f.variables,
                                                f.results, f.state)
    s_in, ds = feed.inputs_on_path(s)
    sharding = NamedSharding(step_lib.data_mesh(), P('data'))
    _, test_logits = feed.evaluation(s_in, ds, model, sharding)
    results = {'model': s.model,
               'input_shape': list(float_results['input_shape']),
               'float_test_error': float_results['test_error'],
               'test_images': ds.num_test,
               'float_train_wall_time_s': float_results.get(
                   'train_wall_time_s'),
               'ptq': {}, 'qat': {}}
    for name, sec, _ in variants:
      sub = os.path.join(workdir, 'ptq', name) if workdir else None
      results['ptq'][name] = Q.quantized_report(
          model, variables, lambda p, sec=sec: qplugin.resolve(sec, p),
          ds.train_images, ds.test_images, ds.test_labels, sub, s.model,
          s.model_kwargs, test_logits=test_logits)
      results['ptq'][name]['settings'] = dict(dict(spec.variants)[name])

    spe = ds.num_train // s.batch_size
    for name, sec, sched in qats:
      epochs = float(sched.get('epochs', 2.0))
      qcfg = parsed.replace(
          sections={'quantization': sec}, stages={}, teacher=None,
          settings=s.replace(
              init_from='', num_epochs=epochs, num_train_steps=-1,
              # One epoch per compiled call, or the whole run if shorter.
              steps_per_call=-1 if epochs >= 1 else int(round(epochs * spe)),
              eval_every_steps=-1, checkpoint_every_steps=-1,
              learning_rate=float(sched.get('learning_rate',
                                            s.learning_rate * 0.1)),
              measure_latency=False))
      q = pipe.stage(f'qat/{name}', qcfg, init=variables)
      state = q.state
      results['qat'][name] = {
          'fake_quant_test_error_in_training': q.results['test_error'],
          'train_wall_time_s': q.results.get('train_wall_time_s'),
          'settings': dict(dict(spec.qat)[name]),
          **{k[len('qat_'):]: v for k, v in q.results.items()
             if k.startswith('qat_')}}
    return state, pipe.finish(results)
