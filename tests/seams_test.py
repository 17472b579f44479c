"""New methods from outside the package: a score and a quantizer registered
from this file alone train through the real loop; LSQ is reachable from
config."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import tiny_config

from jaxcompress import models, plugins, pruning, quantization, train
from jaxcompress.quantization import quantizers as qz


def _smallest_first():
  """Keep the weights of smallest magnitude: the opposite of `magnitude`,
  so the test can tell which score ran."""
  return pruning.stateless(
      lambda params, new, key: jax.tree.map(lambda w: -jnp.abs(w), new))


def test_a_score_registered_here_trains_and_is_the_one_used():
  plugins.register_score('smallest_first', lambda sec, ctx: _smallest_first())
  c = tiny_config(num_train_steps=20, learning_rate=0.0)
  c.pruning = ml_collections.ConfigDict(dict(
      score='smallest_first', sparsity=0.5, schedule='one_shot', step=0.0))
  state, r = train.train_and_evaluate(c, None)
  model = models.get_model('lenet_300_100')
  init = model.init(jax.random.key(0), np.zeros((1, 28, 28, 1)))['params']
  w0 = np.abs(np.asarray(init['fc2']['kernel'])).ravel()
  kept = np.asarray(state.params['fc2']['kernel']).ravel() != 0
  # Learning rate 0: the mask was taken on the initial weights, and it kept
  # exactly the half with the smallest magnitudes.
  assert kept.sum() == w0.size // 2
  assert w0[kept].max() <= w0[~kept].min()
  assert r['pruning']['layers']['fc2/kernel']['nnz'] == w0.size // 2


def _maxabs_step_quantizer():
  """A learned step initialised at max|w| / qmax (LSQ starts at
  2 mean|w| / sqrt(qmax)); trained through `lsq_fake_quant`."""
  def init(w, spec, method):
    del method
    return jnp.max(jnp.abs(w)) / spec.qmax

  def apply(w, step, spec, method):
    del method
    return qz.lsq_fake_quant(w, jnp.abs(step) + 1e-12, spec)

  def qparams(w, step, spec, method):
    del w, method
    return jnp.abs(step) + 1e-12, jnp.zeros(())

  return quantization.Quantizer(init, apply, qparams, trainable=True)


def test_a_quantizer_registered_here_trains_its_step():
  plugins.register_quantizer('maxabs_step', _maxabs_step_quantizer())
  c = tiny_config(num_train_steps=20)
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=4, per_channel=False, quantizer='maxabs_step',
      save_files=False))
  state, r = train.train_and_evaluate(c, None)
  steps = state.aux['quantization']
  assert sorted(steps) == ['fc1/kernel', 'fc2/kernel', 'fc3/kernel']
  model = models.get_model('lenet_300_100')
  init = model.init(jax.random.key(0), np.zeros((1, 28, 28, 1)))['params']
  start = float(np.abs(init['fc1']['kernel']).max() / 7)
  assert abs(float(steps['fc1/kernel']) - start) > 1e-6   # it learned
  # The loop's evaluation and the report's weight-only model use the same
  # learned grid: the same wrong answers among the 1,000 test images.
  assert round(r['qat_weight_only_error'] * 1000) == r['test_errors']


def test_lsq_from_config_with_integer_inputs_is_bit_exact():
  c = tiny_config(num_train_steps=20)
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=4, act_bits=8, quantizer='lsq', calib_images=128,
      save_files=False))
  state, r = train.train_and_evaluate(c, None)
  step = np.asarray(state.aux['quantization']['fc1/kernel'])
  assert step.shape == (1, 300)   # per output channel
  assert r['qat_integer_bit_exact']
  assert r['qat_integer_layers'] == ['fc1', 'fc2', 'fc3']
  # 20 steps of 4-bit LSQ from scratch leave a model far better than chance.
  assert r['qat_integer_error'] < 0.5


def test_lsq_refuses_batch_norm_before_compiling():
  c = tiny_config(model='resnet_small', num_train_steps=10)
  c.quantization = ml_collections.ConfigDict(dict(weight_bits=4,
                                                  quantizer='lsq'))
  before = train.TRACE_COUNTS['train_step']
  with pytest.raises(ValueError, match='batch-norm folding would change'):
    train.train_and_evaluate(c, None)
  assert train.TRACE_COUNTS['train_step'] == before
