"""Pruning through the real train loop (train_and_evaluate) on tiny data."""

import pytest
from conftest import assert_trained, tiny_config

from jaxcompress import train
from jaxcompress.plugins import default_section


def _section(**kw):
  s = default_section('pruning')
  for k, v in kw.items():
    s[k] = v
  return s


def test_gradual_pruning_end_to_end_exact_and_compiled_once():
  config = tiny_config(num_train_steps=40, steps_per_call=10)
  config.pruning = _section(sparsity=0.9, schedule='polynomial', begin=0,
                            end=30, every=5, rules=(('fc3', 0.5),))
  before = train.TRACE_COUNTS['train_step']
  state, results = train.train_and_evaluate(config, None)
  assert train.TRACE_COUNTS['train_step'] - before == 1
  layers = results['pruning']['layers']
  for name, size, s in (('fc1/kernel', 784 * 300, 0.9),
                        ('fc2/kernel', 300 * 100, 0.9),
                        ('fc3/kernel', 100 * 10, 0.5)):
    assert layers[name]['nnz'] == size - round(s * size), name
    assert layers[name]['target'] == size - round(s * size)
  assert layers['fc1/bias']['pruned'] is False
  assert_trained(results['test_error'], 0.3)


def test_snip_and_projection_train_to_their_exact_sparsity():
  config = tiny_config(num_train_steps=40, steps_per_call=10)
  config.pruning = _section(sparsity=0.95, score='snip',
                            distribution='global')
  _, results = train.train_and_evaluate(config, None)
  pr = results['pruning']['pruned_layers']
  assert pr['size'] - pr['nnz'] == round(0.95 * pr['size'])
  assert_trained(results['test_error'], 0.32)   # 95% pruned before training

  config.pruning = _section(sparsity=0.8, constrained=True, l1=1e-5)
  _, results = train.train_and_evaluate(config, None)
  for name, row in results['pruning']['layers'].items():
    if row['pruned']:
      # the constraint held at every step, not just at the end
      assert row['max_kept'] == row['target'] >= row['nnz'], name
  assert_trained(results['test_error'], 0.32)


def test_bad_config_fails_before_training():
  config = tiny_config()
  config.pruning = _section(sparsity=1.0)
  with pytest.raises(ValueError, match=r'\[0.0, 1.0\)'):
    train.train_and_evaluate(config, None)
  config.pruning = _section(rules=(('conv7', 0.5),))
  with pytest.raises(ValueError, match='match no parameter'):
    train.train_and_evaluate(config, None)
  config.pruning = _section(schedule='polynomial', begin=10, end=5)
  with pytest.raises(ValueError, match='before it begins'):
    train.train_and_evaluate(config, None)
  config.pruning = _section(mask_type='nm', nm=(2, 3), nm_axis=1)
  with pytest.raises(ValueError, match='does not divide'):
    train.train_and_evaluate(config, None)
