"""Post-training quantization, QAT fine-tuning, and the report both share.

`run(config, workdir)` is an experiment entry (`config.entry =
'jaxcompress.quantization.ptq:run'`):

  1. trains the float model with `train.train_and_evaluate` (or resumes the
     finished run in `quantization.float_workdir`, so several experiments
     share one float model);
  2. for each PTQ variant in `quantization.variants` (name, overrides of the
     section): folds batch norm, quantizes, calibrates and measures
     (`quantized_report`);
  3. for each QAT variant in `quantization.qat` (name, overrides, plus
     `epochs` and `learning_rate`): fine-tunes from the float weights with the
     quantization plugin in the train step, then measures the same way.

`quantized_report` measures, for one setting: the weight-only fake-quant
error; with quantized inputs, the error of the calibrated fake-quant model
and of the integer model, and whether their logits are bit-identical; the
sizes of the quantized file and of the float32 file written the same way;
and the error of the model loaded back from the file.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from typing import Any

import flax.serialization
import jax
import ml_collections
import numpy as np

from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import fold_bn, integer, storage
from jaxcompress.quantization import plugin as plugin_mod


def logits_of(apply_fn, variables, images: np.ndarray, batch_size: int = 1000
              ) -> np.ndarray:
  """`apply_fn(variables, x, train=False)` over `images`, in batches."""
  f = jax.jit(lambda v, x: apply_fn(v, x, train=False))
  return np.concatenate([np.asarray(f(variables, images[i:i + batch_size]))
                         for i in range(0, len(images), batch_size)])


def quantized_report(model, variables: Any, section, train_images: np.ndarray,
                     test_images: np.ndarray, test_labels: np.ndarray,
                     workdir: str | None, config=None, prefix: str = ''
                     ) -> dict:
  """Quantizes trained float `variables` as `section` says and measures it.

  Args:
    model: the flax module.
    variables: trained float variables (batch norm is folded here).
    section: a quantization config section (see `plugin.py`).
    train_images: calibration images come from the front of this array.
    test_images, test_labels: the test set; errors are computed from the
      logits of each model, which are also compared with each other.
    workdir: where the files go (a temporary directory if None).
    config: the experiment config (its model name goes in the file header).
    prefix: prefix for the result keys.

  Returns:
    A dict of `prefix`-ed results (errors, bit-exactness, file bytes).
  """
  x1 = np.asarray(train_images[:1])
  model_f, vars_f = fold_bn.fold_batch_norm(model, variables, x1)
  settings = plugin_mod.resolve(section, vars_f['params'])
  specs, method = settings.specs, settings.weight_method
  preserve = plugin_mod._get(section, 'preserve_sparsity')

  def weight_only(v, x, train=False):
    p = apply_lib.quantize_params(v['params'], specs, method, preserve)
    return model_f.apply({**v, 'params': p}, x, train=train)

  error = lambda logits: float(np.mean(logits.argmax(-1) != test_labels))
  wq_logits = logits_of(weight_only, vars_f, test_images)
  r = {'weight_only_error': error(wq_logits)}
  layers = {}
  if settings.layers:
    n = plugin_mod._get(section, 'calib_images')
    act_method = plugin_mod._get(section, 'act_method')
    kw = ({'percentile': plugin_mod._get(section, 'act_percentile')}
          if act_method == 'percentile' else {})
    layers = apply_lib.calibrate_layers(
        weight_only, vars_f, np.asarray(train_images[:n]), settings.layers,
        act_method, **kw)
    params_fn = plugin_mod.params_transform(settings, preserve)
    inner = apply_lib.fake_quant_apply(model_f.apply, layers)

    def fake(v, x, train=False):
      return inner({**v, 'params': params_fn(v['params'])}, x, train=train)

    ref_logits = logits_of(fake, vars_f, test_images)
    r['fake_quant_error'] = error(ref_logits)
    r['calib_images'] = int(min(n, len(train_images)))
  else:
    ref_logits = wq_logits
  im = integer.convert(model_f, vars_f, specs, layers, method)

  def run_integer(arrays, x, train=False):
    del train
    return im.apply_arrays(arrays, x)

  int_logits = logits_of(run_integer, im.arrays(), test_images)
  r['integer_error'] = error(int_logits)
  r['integer_layers'] = sorted(layers)
  r['integer_max_abs_logit_diff'] = float(np.max(np.abs(ref_logits -
                                                        int_logits)))
  r['integer_bit_exact'] = bool(np.array_equal(ref_logits, int_logits))
  r['integer_argmax_identical'] = bool(np.array_equal(
      ref_logits.argmax(-1), int_logits.argmax(-1)))

  if plugin_mod._get(section, 'save_files'):
    tmp = None
    if workdir is None:
      tmp = tempfile.TemporaryDirectory()
      out_dir = tmp.name
    else:
      out_dir = workdir
    name = config.model if config is not None else ''
    kwargs = _model_kwargs(config, model_f)
    qpath = os.path.join(out_dir, f'{prefix}quantized.jxq')
    fpath = os.path.join(out_dir, f'{prefix}float32.jxq')
    r['file_bytes'] = storage.save(im, qpath, name, kwargs)
    r['float32_file_bytes'] = storage.save_float(vars_f, fpath, name, kwargs)
    r['size_ratio'] = r['file_bytes'] / r['float32_file_bytes']
    if name:
      loaded = storage.load(qpath)

      def run_loaded(arrays, x, train=False):
        del train
        return loaded.apply_arrays(arrays, x)

      loaded_logits = logits_of(run_loaded, loaded.arrays(), test_images)
      r['loaded_error'] = error(loaded_logits)
      r['loaded_logits_identical'] = bool(np.array_equal(loaded_logits,
                                                         int_logits))
    if tmp is not None:
      tmp.cleanup()
  return {prefix + k: v for k, v in r.items()}


def _model_kwargs(config, model_f) -> dict:
  kwargs = dict(config.model_kwargs.to_dict()) if config is not None else {}
  if 'batch_norm' in kwargs:
    kwargs['batch_norm'] = bool(getattr(model_f, 'batch_norm', False))
  return kwargs


def _merge(section, overrides) -> ml_collections.ConfigDict:
  out = ml_collections.ConfigDict(
      {k: v for k, v in section.to_dict().items()
       if k not in ('variants', 'qat', 'float_workdir')})
  for k, v in dict(overrides).items():
    if k in ('epochs', 'learning_rate'):   # QAT schedule, not quantization
      continue
    out[k] = v
  return out


def _without_quantization(config) -> ml_collections.ConfigDict:
  c = copy.deepcopy(config)
  with c.unlocked():
    if 'quantization' in c:
      del c['quantization']
    c.entry = 'jaxcompress.train:train_and_evaluate'
  return c


def run(config: ml_collections.ConfigDict, workdir: str | None):
  """Float training, then the PTQ and QAT variants the config lists.

  Returns:
    (the float TrainState, None if float_workdir held a finished run,
    results) with results['ptq'][name] and
    results['qat'][name] holding each variant's `quantized_report` (QAT also
    its fine-tuning's fake-quant test error); written to
    workdir/results.json.
  """
  from jaxcompress import train
  section = config.quantization
  variants = [(n, dict(o)) for n, o in section.get('variants', ())]
  qats = [(n, dict(o)) for n, o in section.get('qat', ())]
  for _, o in variants + qats:
    plugin_mod.check_config(_merge(section, o))
  float_cfg = _without_quantization(config)
  float_dir = section.get('float_workdir', '') or (
      os.path.join(workdir, 'float') if workdir else None)
  if float_dir and os.path.exists(os.path.join(float_dir, 'results.json')):
    model, variables, float_results = train.load_run(float_dir)
    state = None
  else:
    state, float_results = train.train_and_evaluate(float_cfg, float_dir)
    model = train.models.get_model(config.model, **config.model_kwargs)
    variables = jax.tree.map(np.asarray, state.variables())
  ds = train.load_data(config)
  results = {'model': config.model,
             'float_test_error': float_results['test_error'],
             'test_images': len(ds.test_labels),
             'float_train_wall_time_s': float_results.get('train_wall_time_s'),
             'ptq': {}, 'qat': {}}
  for name, overrides in variants:
    sub = os.path.join(workdir, 'ptq', name) if workdir else None
    results['ptq'][name] = quantized_report(
        model, variables, _merge(section, overrides), ds.train_images,
        ds.test_images, ds.test_labels, sub, config)
    results['ptq'][name]['settings'] = overrides

  tmp = None
  if qats:
    if float_dir and os.path.exists(os.path.join(float_dir, 'model.msgpack')):
      init_path = os.path.join(float_dir, 'model.msgpack')
    else:
      tmp = tempfile.TemporaryDirectory()
      init_path = os.path.join(tmp.name, 'model.msgpack')
      with open(init_path, 'wb') as f:
        f.write(flax.serialization.msgpack_serialize(variables))
  for name, overrides in qats:
    qcfg = copy.deepcopy(config)
    with qcfg.unlocked():
      qcfg.entry = 'jaxcompress.train:train_and_evaluate'
      qcfg.quantization = _merge(section, overrides)
      qcfg.init_from = init_path
      qcfg.num_epochs = float(overrides.get('epochs', 2.0))
      qcfg.num_train_steps = -1
      epochs = qcfg.num_epochs
      spe = len(ds.train_labels) // config.batch_size
      # One epoch per compiled call, or the whole run if shorter.
      qcfg.steps_per_call = -1 if epochs >= 1 else int(round(epochs * spe))
      qcfg.eval_every_steps = -1
      qcfg.checkpoint_every_steps = -1
      qcfg.learning_rate = float(overrides.get('learning_rate',
                                               config.learning_rate * 0.1))
      qcfg.measure_latency = False
    sub = os.path.join(workdir, 'qat', name) if workdir else None
    _, qres = train.train_and_evaluate(qcfg, sub)
    results['qat'][name] = {
        'fake_quant_test_error_in_training': qres['test_error'],
        'train_wall_time_s': qres.get('train_wall_time_s'),
        'settings': overrides,
        **{k[len('qat_'):]: v for k, v in qres.items()
           if k.startswith('qat_')}}
  if tmp is not None:
    tmp.cleanup()
  if workdir:
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, 'results.json'), 'w') as f:
      json.dump(results, f, indent=1, default=str)
  return state, results
