"""Measuring a quantized model: fake-quant, integer model, files on disk.

`quantized_report` takes trained float variables and a `QuantSettings` (which
weights and layer inputs are quantized, how, calibrated on what) and
measures: the weight-only fake-quant error; with quantized inputs, the error
of the calibrated fake-quant model and of the integer model, and whether
their logits are bit-identical; the sizes of the quantized file and of the
float32 file written the same way; and the error of the model loaded back
from the file. Post-training quantization and the end of quantization-aware
training both report through it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import fold_bn, integer, storage
from jaxcompress.quantization.apply import LayerQuant
from jaxcompress.rules import path_str


class QuantSettings(NamedTuple):
  """Resolved quantization of one model.

  Attributes:
    specs: a `QuantSpec | None` per parameter (`apply.weight_specs`).
    layers: {layer path: LayerQuant} for layers with quantized inputs.
    weight_method: range method of the weights.
    preserve_sparsity: keep zero weights exactly zero.
    calib_images: training images used to calibrate input ranges.
    act_method, act_percentile: input range calibration.
    save_files: write the quantized and float32 files.
    weight_qparams: explicit ``(scale, zero_point)`` per parameter path
      (learned step sizes); the others come from the weights' range.
  """
  specs: Any
  layers: dict[str, LayerQuant]
  weight_method: str = 'minmax'
  preserve_sparsity: bool = False
  calib_images: int = 500
  act_method: str = 'minmax'
  act_percentile: float = 99.99
  save_files: bool = True
  weight_qparams: dict | None = None


def params_transform(settings: QuantSettings):
  """`params -> params` fake-quantizing the weights not handled by layers.

  Kernels of layers with quantized inputs are quantized inside the layer
  (`apply.fake_quant_layer`), so they are left alone here.
  """
  inside = {f'{n}/kernel' for n, lq in settings.layers.items()
            if lq.weight is not None and lq.act is not None}
  specs = jax.tree_util.tree_map_with_path(
      lambda p, s: None if path_str(p) in inside else s, settings.specs,
      is_leaf=lambda x: x is None)

  def params_fn(params):
    return apply_lib.quantize_params(params, specs, settings.weight_method,
                                     settings.preserve_sparsity,
                                     settings.weight_qparams)

  return params_fn


def logits_of(apply_fn, variables, images: np.ndarray, batch_size: int = 1000
              ) -> np.ndarray:
  """`apply_fn(variables, x, train=False)` over `images`, in batches."""
  f = jax.jit(lambda v, x: apply_fn(v, x, train=False))
  return np.concatenate([np.asarray(f(variables, images[i:i + batch_size]))
                         for i in range(0, len(images), batch_size)])


def quantized_report(model, variables: Any, recipe: Callable[[Any], QuantSettings],
                     train_images: np.ndarray, test_images: np.ndarray,
                     test_labels: np.ndarray, workdir: str | None,
                     model_name: str = '', model_kwargs: dict | None = None,
                     prefix: str = '', test_logits: Callable | None = None
                     ) -> dict:
  """Quantizes trained float `variables` as `recipe` says and measures it.

  Args:
    model: the flax module.
    variables: trained float variables (batch norm is folded here).
    recipe: ``params -> QuantSettings`` for the folded parameters (the rules
      are resolved after folding, which may remove batch-norm parameters).
    train_images: calibration images come from the front of this array.
    test_images, test_labels: the test set; errors are computed from the
      logits of each model, which are also compared with each other.
    workdir: where the files go (a temporary directory if None).
    model_name, model_kwargs: the zoo model, named in the file's header so
      the file loads back on its own (no reload check without a name).
    prefix: prefix for the result keys.
    test_logits: ``(apply_fn, variables) -> (logits, labels)`` over the
      whole test set, in the same order on every call, for a test set not
      held in memory (then `test_images` and `test_labels` are unused);
      default: `logits_of` over `test_images`.

  Returns:
    A dict of `prefix`-ed results (errors, bit-exactness, file bytes).
  """
  x1 = np.asarray(train_images[:1])
  model_f, vars_f = fold_bn.fold_batch_norm(model, variables, x1)
  settings = recipe(vars_f['params'])
  specs, method = settings.specs, settings.weight_method
  preserve = settings.preserve_sparsity

  def weight_only(v, x, train=False):
    p = apply_lib.quantize_params(v['params'], specs, method, preserve,
                                  settings.weight_qparams)
    return model_f.apply({**v, 'params': p}, x, train=train)

  if test_logits is None:
    test_logits = lambda f, v: (logits_of(f, v, test_images), test_labels)

  def on_test(apply_fn, v):
    """(logits, error) over the test set."""
    logits, y = test_logits(apply_fn, v)
    return logits, float(np.mean(logits.argmax(-1) != y))

  wq_logits, wq_error = on_test(weight_only, vars_f)
  r = {'weight_only_error': wq_error}
  layers = {}
  if settings.layers:
    n = settings.calib_images
    act_method = settings.act_method
    kw = ({'percentile': settings.act_percentile}
          if act_method == 'percentile' else {})
    layers = apply_lib.calibrate_layers(
        weight_only, vars_f, np.asarray(train_images[:n]), settings.layers,
        act_method, **kw)
    params_fn = params_transform(settings)
    inner = apply_lib.fake_quant_apply(model_f.apply, layers)

    def fake(v, x, train=False):
      return inner({**v, 'params': params_fn(v['params'])}, x, train=train)

    ref_logits, r['fake_quant_error'] = on_test(fake, vars_f)
    r['calib_images'] = int(min(n, len(train_images)))
  else:
    ref_logits = wq_logits
  im = integer.convert(model_f, vars_f, specs, layers, method,
                       settings.weight_qparams)

  def run_integer(arrays, x, train=False):
    del train
    return im.apply_arrays(arrays, x)

  int_logits, r['integer_error'] = on_test(run_integer, im.arrays())
  r['integer_layers'] = sorted(layers)
  r['integer_max_abs_logit_diff'] = float(np.max(np.abs(ref_logits -
                                                        int_logits)))
  r['integer_bit_exact'] = bool(np.array_equal(ref_logits, int_logits))
  r['integer_argmax_identical'] = bool(np.array_equal(
      ref_logits.argmax(-1), int_logits.argmax(-1)))

  if settings.save_files:
    tmp = None
    if workdir is None:
      tmp = tempfile.TemporaryDirectory()
      out_dir = tmp.name
    else:
      out_dir = workdir
    name = model_name
    kwargs = dict(model_kwargs or {})
    if 'batch_norm' in kwargs:
      kwargs['batch_norm'] = bool(getattr(model_f, 'batch_norm', False))
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

      loaded_logits, r['loaded_error'] = on_test(run_loaded, loaded.arrays())
      r['loaded_logits_identical'] = bool(np.array_equal(loaded_logits,
                                                         int_logits))
    if tmp is not None:
      tmp.cleanup()
  return {prefix + k: v for k, v in r.items()}


