"""A finished run's workdir -> its final model, exported and measured.

The one module of `jaxcompress.export` that reads workdirs: everything a run
leaves there is read through `jaxcompress.saved_runs.load_run` (results.json
and model.msgpack) and the library's own file readers (`quantization.storage`
for .jxq files, `deep_compression.load`, msgpack for shrunk.msgpack); it
never imports the train loop.

What "the final model" of a workdir is, by what the workdir holds:

  qat_quantized.jxq        'qat': float export of its float weights; int8
                           export of its integer model on its own grid
                           (`carry`)
  quantized.jxq            'ptq' (a variant folder <sweep>/ptq/<name>):
                           float32.jxq (batch norm folded); int8 as 'qat'
  shrunk_model_kwargs in   'shrunk' (prune, shrink, fine-tune): the small
    results.json           model of finetune/
  shrunk.msgpack           'shrunk' (one-stage structured run): the small
                           module, its variables from that file
  model.deepcompressed     'deep_compression': the decoded weight-shared
                           model (into the workdir's model.msgpack, or an
                           auto pipeline's fit/ or finetune/ model)
  model.msgpack only       'float': the run's model

Converter-calibrated int8 uses the first `calib_images` training images (the
run's quantization section's, else 500), as jaxcompress's own PTQ does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from typing import Any

import flax.linen as nn
import flax.serialization
import numpy as np

from jaxcompress import data as data_lib
from jaxcompress import saved_runs
from jaxcompress.export import carry, convert, litert
from jaxcompress.quantization.integer import IntegerModel

DEFAULT_CALIB_IMAGES = 500


@dataclasses.dataclass
class Run:
  """A workdir's final model.

  Attributes:
    workdir: where it was read from.
    kind: 'float', 'qat', 'ptq', 'shrunk' or 'deep_compression'.
    model, variables: the float model and its variables.
    integer_model: for 'qat' / 'ptq', the run's IntegerModel, else None.
    results: the run's results.json (a PTQ variant: its pipeline's).
    config: the run's config as stored in results.json ({} if none).
  """
  workdir: str
  kind: str
  model: nn.Module
  variables: Any
  integer_model: IntegerModel | None
  results: dict
  config: dict

  @property
  def calib_images(self) -> int:
    q = self.config.get('quantization') or {}
    return int(q.get('calib_images', DEFAULT_CALIB_IMAGES))


def _results(workdir: str) -> dict:
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def _variants(workdir: str) -> list[str]:
  out = []
  for stage in ('ptq', 'qat'):
    d = os.path.join(workdir, stage)
    if os.path.isdir(d):
      out += [os.path.join(d, n) for n in sorted(os.listdir(d))]
  return out


def load(workdir: str) -> Run:
  """Reads a finished run's final model (the table in the module docstring).

  Raises:
    ValueError: a workdir that holds no finished run, or a quantization
      sweep (name one of its variants instead; they are listed).
  """
  if not os.path.isdir(workdir):
    raise ValueError(f'No such workdir {workdir!r}')
  from jaxcompress.quantization import storage
  results = _results(workdir)
  config = results.get('config', {})
  join = lambda name: os.path.join(workdir, name)
  if os.path.exists(join('qat_quantized.jxq')):
    model, variables, results = saved_runs.load_run(workdir)
    return Run(workdir, 'qat', model, variables,
               storage.load(join('qat_quantized.jxq')), results, config)
  if os.path.exists(join('quantized.jxq')):   # <pipeline>/ptq/<variant>
    im = storage.load(join('quantized.jxq'))
    results = results or _results(os.path.dirname(os.path.dirname(
        os.path.abspath(workdir))))
    variables = storage.load_float(join('float32.jxq'))
    return Run(workdir, 'ptq', im.model, variables, im, results, config)
  if results and 'ptq' in results and 'qat' in results:
    raise ValueError(
        f'{workdir!r} holds a quantization sweep, not one model; export one '
        f'of its variants: {_variants(workdir)}')
  if 'shrunk_model_kwargs' in results:
    model, variables, fine = saved_runs.load_run(join('finetune'))
    return Run(workdir, 'shrunk', model, variables, None, results,
               fine.get('config', config))
  if os.path.exists(join('shrunk.msgpack')):
    return _shrunk_from_masked(workdir)
  if os.path.exists(join('model.deepcompressed')):
    return _deep_compressed(workdir, results, config)
  model, variables, results = saved_runs.load_run(workdir)
  return Run(workdir, 'float', model, variables, None, results, config)


def _shrunk_from_masked(workdir: str) -> Run:
  """The small module of a one-stage structured run, with shrunk.msgpack."""
  from jaxcompress.structured import graph as graph_lib
  from jaxcompress.structured import removal
  model, variables, results = saved_runs.load_run(workdir)
  config = results.get('config', {})
  inputs = bool((config.get('structured') or {}).get('inputs', False))
  shape = tuple(results['input_shape'])
  graph = graph_lib.trace_groups(model, variables, shape, inputs=inputs)
  small, template = removal.shrink(model, variables, graph=graph,
                                   input_shape=shape)
  with open(os.path.join(workdir, 'shrunk.msgpack'), 'rb') as f:
    small_vars = flax.serialization.from_bytes(template, f.read())
  return Run(workdir, 'shrunk', small, small_vars, None, results, config)


def _deep_compressed(workdir: str, results: dict, config: dict) -> Run:
  """model.deepcompressed decoded into the module of the run that wrote it:
  the workdir's own model.msgpack (a Deep Compression run) or, for an auto
  pipeline, its last fine-tuning stage's ('fit' after 'finetune')."""
  from jaxcompress import deep_compression
  dirs = [workdir] + [os.path.join(workdir, s) for s in ('fit', 'finetune')]
  template = next((d for d in dirs
                   if os.path.exists(os.path.join(d, 'model.msgpack'))), None)
  if template is None:
    raise ValueError(f'{workdir!r} holds model.deepcompressed but no '
                     'model.msgpack (nor a fit/ or finetune/ stage) to decode '
                     'it with')
  model, variables, _ = saved_runs.load_run(template)
  params = deep_compression.load(os.path.join(workdir, 'model.deepcompressed'),
                                 variables['params'])
  return Run(workdir, 'deep_compression', model,
             dict(variables, params=params), None, results, config)


def dataset(run: Run) -> data_lib.Dataset:
  """The run's dataset (its config's name and folders; MNIST by default)."""
  c = run.config
  return data_lib.load(c.get('dataset', 'mnist'), c.get('data_dir') or None,
                       c.get('manual_dir') or None)


def export(run: Run, quantize: str, ds: data_lib.Dataset,
           sparse: bool = False) -> tuple[bytes, dict]:
  """The run's final model as .tflite bytes, with what was done.

  'int8' of a 'qat'/'ptq' run converts the integer model (from its
  dequantized weights) and carries its own grid into the file; other runs
  get the converter's calibration on the first `run.calib_images` training
  images.

  Returns:
    (bytes, info): info['int8_grid'] is 'run' or 'converter';
    info['converter_file'] holds the converter-calibrated bytes of a carried
    export (to report both), info['carry'] the carry report.
  """
  convert.check_quantize(quantize)
  calib = ds.train_images[:run.calib_images]
  shape = tuple(run.results['input_shape'])
  im = run.integer_model
  if quantize == 'int8' and im is not None:
    carry.check_integer_model(im)
    raw = convert.to_tflite(im.model, im.float_variables(), quantize='int8',
                            calibration_images=calib, sparse=sparse,
                            input_shape=shape)
    carried, report = carry.carry_integer_model(raw, im)
    return carried, {'int8_grid': 'run', 'converter_file': raw,
                     'carry': report}
  tflite = convert.to_tflite(run.model, run.variables, quantize=quantize,
                             calibration_images=calib, sparse=sparse,
                             input_shape=shape)
  return tflite, {'int8_grid': 'converter' if quantize == 'int8' else None}


def write_atomic(path: str, blob: bytes) -> int:
  """Writes `blob` to `path` through a temporary file and a rename."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, suffix='.tmp')
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(blob)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return os.path.getsize(path)


def evaluate(run: Run, tflite: bytes, info: dict, ds: data_lib.Dataset
             ) -> dict:
  """Test error of the file in LiteRT, beside the JAX model it came from.

  Returns:
    {'tflite_bytes', 'litert_test_error', and, for a carried int8 export,
    'integer_test_error', 'top1_agreement_with_integer' and the same two
    figures for the converter-calibrated file; otherwise the JAX model's
    error and the largest logit difference from it, at batch 1 and
    batched}.
  """
  import jax
  x, y = ds.test_images, ds.test_labels
  logits = litert.predict(tflite, x)
  out = {'tflite_bytes': len(tflite),
         'litert_test_error': float(np.mean(logits.argmax(-1) != y))}
  if info.get('int8_grid') == 'run':
    ref = _batched(run.integer_model.jit_apply(), x)
    raw = litert.predict(info['converter_file'], x)
    out.update({
        'integer_test_error': float(np.mean(ref.argmax(-1) != y)),
        'top1_agreement_with_integer': float(np.mean(
            logits.argmax(-1) == ref.argmax(-1))),
        'converter_calibrated_test_error': float(np.mean(
            raw.argmax(-1) != y)),
        'converter_calibrated_top1_agreement': float(np.mean(
            raw.argmax(-1) == ref.argmax(-1))),
        'carried_layers': info['carry']['layers'],
        'converter_grid_kept_on': info['carry']['kept']})
  else:
    f = jax.jit(lambda v, b: run.model.apply(v, b, train=False))
    batched = _batched(lambda b: f(run.variables, b), x)
    # The file runs at batch 1; JAX at batch 1 is the same computation, at
    # batch 1000 XLA sums in another order (float32 noise of ~1e-6 relative).
    single = np.concatenate([np.asarray(f(run.variables, x[i:i + 1]))
                             for i in range(len(x))])
    out.update({
        'jax_test_error': float(np.mean(batched.argmax(-1) != y)),
        'max_abs_logit_diff_vs_jax_b1': float(np.max(np.abs(logits - single))),
        'max_abs_logit_diff_vs_jax_batched': float(np.max(np.abs(
            logits - batched))),
        'max_abs_logit': float(np.max(np.abs(single))),
        'top1_agreement_with_jax': float(np.mean(
            logits.argmax(-1) == batched.argmax(-1)))})
  return out


def _batched(fn, x, batch: int = 1000) -> np.ndarray:
  return np.concatenate([np.asarray(fn(x[i:i + batch]))
                         for i in range(0, len(x), batch)])


def edge_columns(workdir: str, repeats: int = 300) -> dict:
  """The comparison table's two LiteRT columns for a finished run.

  The run's final model is exported to full int8 (its own grid for QAT/PTQ
  runs, else the converter's calibration) and timed in the LiteRT
  interpreter at batch 1, one thread (median of `repeats` calls).

  Returns:
    {'tflite_bytes': size of the int8 .tflite, 'litert_int8_b1_ms': ms}.
  """
  run = load(workdir)
  ds = dataset(run)
  tflite, _ = export(run, 'int8', ds)
  ms = litert.latency_ms(tflite, ds.test_images[:1], 1, repeats)
  return {'tflite_bytes': len(tflite), 'litert_int8_b1_ms': ms}
