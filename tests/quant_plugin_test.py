"""End to end: float training, PTQ and QAT through the real train loop."""

import os

import ml_collections
import pytest
from conftest import assert_trained, tiny_config

from jaxcompress import models, pipelines, train
from jaxcompress.plugins import parse_config
from jaxcompress.plugins import quantization as qplugin


def test_ptq_and_qat_bit_exact_small_files_near_the_float_error(tmp_path):
  c = tiny_config(test_subset=500, pipeline='ptq')
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=8, act_bits=8, calib_images=256))
  c.ptq = ml_collections.ConfigDict(dict(
      variants=(('w8a8', {}),),
      qat=(('w4a8', {'weight_bits': 4, 'epochs': 1.0}),)))
  before = train.TRACE_COUNTS['train_step']
  _, r = pipelines.run(c, str(tmp_path))
  assert train.TRACE_COUNTS['train_step'] - before == 2   # float, then QAT
  float_error = r['float_test_error']
  assert_trained(float_error, 0.2, test_subset=500)
  p = r['ptq']['w8a8']
  assert p['integer_layers'] == ['fc1', 'fc2', 'fc3']
  assert p['integer_bit_exact'] and p['loaded_logits_identical']
  assert p['integer_error'] == p['fake_quant_error'] == p['loaded_error']
  assert abs(p['integer_error'] - float_error) <= 0.01
  assert p['size_ratio'] <= 0.26
  assert p['file_bytes'] == os.path.getsize(
      tmp_path / 'ptq' / 'w8a8' / 'quantized.jxq')
  q = r['qat']['w4a8']
  assert q['integer_bit_exact'] and q['loaded_error'] == q['integer_error']
  assert q['size_ratio'] <= 0.14
  # One epoch of 4-bit QAT from the float weights keeps it trained.
  assert q['integer_error'] < float_error + 0.05
  assert os.path.exists(tmp_path / 'results.json')


@pytest.mark.parametrize('field,value,match', [
    ('weight_bits', 9, 'weight_bits must be 0 .float. or in 2..8, got 9'),
    ('act_bits', 1, 'act_bits must be 0 .float. or in 2..8, got 1'),
    ('act_method', 'kl', "Unknown act_method 'kl'"),
    ('weight_method', 'kl', "Unknown weight_method 'kl'"),
    ('calib_images', 0, 'calib_images must be positive'),
    ('wieght_bits', 4, 'Unknown field quantization.wieght_bits; did you '
     'mean quantization.weight_bits'),
])
def test_bad_section(field, value, match):
  c = tiny_config()
  c.quantization = ml_collections.ConfigDict({'act_bits': 8, field: value})
  with pytest.raises(ValueError, match=match):
    parse_config(c)


def test_bad_section_fails_before_training():
  c = tiny_config()
  c.quantization = ml_collections.ConfigDict({'weight_bits': 1})
  before = train.TRACE_COUNTS['train_step']
  with pytest.raises(ValueError, match='weight_bits must be 0'):
    train.train_and_evaluate(c, None)
  assert train.TRACE_COUNTS['train_step'] == before


def test_qat_composes_with_pruning_zeros_stay_zero():
  import numpy as np

  from jaxcompress.quantization import apply as qapply
  from jaxcompress.quantization import integer
  c = tiny_config(test_subset=500)
  c.pruning = ml_collections.ConfigDict(dict(sparsity=0.8,
                                             schedule='one_shot', step=0.0))
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=4, weight_symmetric=False, act_bits=8, calib_images=128,
      preserve_sparsity=True, save_files=False))
  state, r = train.train_and_evaluate(c, None)
  assert r['qat_integer_bit_exact']
  assert_trained(r['test_error'], 0.32, test_subset=500)
  params = state.params
  settings = qplugin.resolve(parse_config(c).sections['quantization'],
                            params)
  q = qapply.quantize_params(params, settings.specs)
  im = integer.convert(models.get_model('lenet_300_100'),
                       state.variables(), settings.specs)
  for layer in ('fc1', 'fc2', 'fc3'):
    w = np.asarray(params[layer]['kernel'])
    assert 0.75 < np.mean(w == 0) < 0.85   # pruned by the pruning plugin
    assert np.all(np.asarray(q[layer]['kernel'])[w == 0] == 0)
    stored = np.asarray(im.qweights[f'params/{layer}/kernel'].dequantize())
    assert np.all(stored[w == 0] == 0)
