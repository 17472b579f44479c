"""quantized_report: errors counted by hand, bit-exactness, the files."""

import os

import jax
import numpy as np
import pytest

from jaxcompress import models
from jaxcompress.quantization import apply as A
from jaxcompress.quantization import report
from jaxcompress.quantization.quantizers import QuantSpec

W4 = QuantSpec(4, axis=-1)


def _setup():
  model = models.get_model('mlp_64')
  x = np.asarray(jax.random.normal(jax.random.key(1), (48, 28, 28, 1)))
  v = model.init(jax.random.key(0), x[:1])
  labels = np.random.default_rng(0).integers(0, 10, 40).astype(np.int32)
  return model, v, x, labels


def _errors(logits, labels):
  return float(np.mean(np.argmax(np.asarray(logits), -1) != labels))


def test_report_with_quantized_inputs_counts_errors_and_writes_files(
    tmp_path):
  model, v, x, labels = _setup()
  calib = 32

  def recipe(params):
    return report.QuantSettings(
        specs=A.weight_specs(params, [('kernel', W4)]),
        layers={n: A.LayerQuant(W4, QuantSpec(8, symmetric=False))
                for n in ('fc1', 'fc2')},
        calib_images=calib)

  r = report.quantized_report(model, v, recipe, x, x[:40], labels,
                              str(tmp_path), model_name='mlp_64',
                              prefix='w4a8_')
  assert all(k.startswith('w4a8_') for k in r)
  r = {k[len('w4a8_'):]: val for k, val in r.items()}
  # By hand: weight-only fake-quant logits, then the layers calibrated on
  # the first `calib` training images.
  specs = A.weight_specs(v['params'], [('kernel', W4)])
  wq = {'params': A.quantize_params(v['params'], specs)}
  assert r['weight_only_error'] == pytest.approx(
      _errors(model.apply(wq, x[:40]), labels))
  layers = A.calibrate_layers(
      model.apply, wq, x[:calib],
      {n: A.LayerQuant(W4, QuantSpec(8, symmetric=False))
       for n in ('fc1', 'fc2')})
  fake = A.fake_quant_apply(model.apply, layers)(v, x[:40])
  assert r['fake_quant_error'] == pytest.approx(_errors(fake, labels))
  assert r['calib_images'] == calib
  assert r['integer_layers'] == ['fc1', 'fc2']
  assert r['integer_bit_exact'] and r['integer_argmax_identical']
  assert r['integer_max_abs_logit_diff'] == 0.0
  assert r['integer_error'] == r['fake_quant_error'] == r['loaded_error']
  assert r['loaded_logits_identical']
  q = os.path.getsize(tmp_path / 'w4a8_quantized.jxq')
  f = os.path.getsize(tmp_path / 'w4a8_float32.jxq')
  assert (r['file_bytes'], r['float32_file_bytes']) == (q, f)
  assert r['size_ratio'] == pytest.approx(q / f)
  assert 0.1 < r['size_ratio'] < 0.2        # 4-bit codes, float biases


def test_weight_only_report_without_files():
  model, v, x, labels = _setup()
  r = report.quantized_report(
      model, v, lambda p: report.QuantSettings(
          specs=A.weight_specs(p, [('fc1/kernel', QuantSpec(2))]),
          layers={}, save_files=False),
      x, x[:40], labels, None)
  specs = A.weight_specs(v['params'], [('fc1/kernel', QuantSpec(2))])
  wq = model.apply({'params': A.quantize_params(v['params'], specs)}, x[:40])
  assert r['weight_only_error'] == pytest.approx(_errors(wq, labels))
  # No quantized inputs: the integer model dequantizes its weights and must
  # reproduce the weight-only logits' decisions.
  assert r['integer_layers'] == []
  assert r['integer_argmax_identical']
  assert r['integer_error'] == r['weight_only_error']
  assert 'fake_quant_error' not in r and 'file_bytes' not in r


def test_params_transform_leaves_kernels_of_integer_layers_to_the_layer():
  _, v, _, _ = _setup()
  specs = A.weight_specs(v['params'], [('kernel', W4)])
  settings = report.QuantSettings(
      specs=specs, layers={'fc1': A.LayerQuant(W4, QuantSpec(8))})
  out = report.params_transform(settings)(v['params'])
  np.testing.assert_array_equal(out['fc1']['kernel'],
                                v['params']['fc1']['kernel'])
  np.testing.assert_array_equal(
      out['fc2']['kernel'], A.quantize_params(v['params'], specs)['fc2'][
          'kernel'])
  assert not np.array_equal(out['fc2']['kernel'],
                            v['params']['fc2']['kernel'])


def test_logits_of_evaluates_in_inference_mode_in_batches():
  model = models.get_model('lenet_300_100', batch_norm=True)
  x = np.asarray(jax.random.normal(jax.random.key(1), (5, 28, 28, 1)))
  v = model.init(jax.random.key(0), x[:1])
  want = np.asarray(model.apply(v, x, train=False))
  np.testing.assert_allclose(report.logits_of(model.apply, v, x,
                                              batch_size=2), want,
                             rtol=1e-6, atol=1e-6)
