import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress import metrics, models


def _init(name, **kw):
  m = models.get_model(name, **kw)
  return m, m.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)))


def _count(tree):
  return sum(x.size for x in jax.tree.leaves(tree))


@pytest.mark.parametrize('name,expected', [
    ('lenet_300_100', 266_610),   # Han et al. 2015
    ('lenet5', 431_080),          # Caffe LeNet, Han et al. 2015
    ('mlp_128', 784 * 128 + 128 + 128 * 10 + 10),
    ('mlp_64', 784 * 64 + 64 + 64 * 10 + 10),
    ('hinton_teacher', 784 * 1200 + 1200 + 1200 * 1200 + 1200 + 12010),
    ('hinton_student', 784 * 800 + 800 + 800 * 800 + 800 + 8010),
])
def test_parameter_counts(name, expected):
  _, v = _init(name)
  assert _count(v['params']) == expected


def test_layer_names_are_stable():
  _, v = _init('lenet5')
  assert sorted(v['params']) == ['conv1', 'conv2', 'fc1', 'fc2']
  assert v['params']['fc1']['kernel'].shape == (800, 500)


def test_batch_norm_and_dropout_options():
  m, v = _init('lenet_300_100', batch_norm=True, dropout_rate=0.5)
  assert set(v['batch_stats']) == {'bn1', 'bn2'}
  x = jnp.ones((4, 28, 28, 1))
  eval1 = m.apply(v, x, train=False)
  eval2 = m.apply(v, x, train=False)
  np.testing.assert_array_equal(eval1, eval2)
  out, _ = m.apply(v, x, train=True, rngs={'dropout': jax.random.key(1)},
                   mutable=['batch_stats'])
  assert not np.allclose(out, eval1)


def test_resnet_has_residual_blocks_with_batch_norm():
  m, v = _init('resnet_small')
  assert {'stem_conv', 'block1', 'block2', 'head'} <= set(v['params'])
  assert 'proj_conv' in v['params']['block2']
  assert m.apply(v, jnp.ones((3, 28, 28, 1))).shape == (3, 10)


def test_flops_count_lenet_300_100():
  m, v = _init('lenet_300_100')
  s = metrics.summarize(m, v, np.zeros((1, 28, 28, 1), np.float32))
  assert s['flops_dense'] == 2 * (784 * 300 + 300 * 100 + 100 * 10)
  assert s['num_params'] == 266_610


def test_flops_count_lenet5_convolutions():
  m, v = _init('lenet5')
  s = metrics.summarize(m, v, np.zeros((1, 28, 28, 1), np.float32))
  macs = 24 * 24 * 20 * 25 + 8 * 8 * 50 * 25 * 20 + 800 * 500 + 500 * 10
  assert s['flops_dense'] == 2 * macs


def test_sparse_flops_count_only_nonzero_weights():
  m, v = _init('mlp_128')
  k = np.array(v['params']['fc1']['kernel'])
  k[:392] = 0.0  # half of fc1's inputs removed
  v = {'params': {**v['params'], 'fc1': {**v['params']['fc1'], 'kernel': k}}}
  s = metrics.summarize(m, v, np.zeros((1, 28, 28, 1), np.float32))
  assert s['flops'] == 2 * (392 * 128 + 128 * 10)
  # Biases start at zero, so they are not counted as nonzero either.
  assert s['nonzero_params'] == s['num_params'] - 392 * 128 - (128 + 10)


def test_layer_macs_by_hand_are_integer_counts():
  m, v = _init('mlp_128')
  k = np.array(v['params']['fc1']['kernel'])
  k[:196] = 0.0  # a quarter of fc1's inputs removed
  v = {'params': {**v['params'], 'fc1': {**v['params']['fc1'], 'kernel': k}}}
  macs = metrics.layer_macs(m, v, np.zeros((1, 28, 28, 1), np.float32))
  assert macs == {'fc1': (784 * 128, 588 * 128), 'fc2': (128 * 10, 1280)}
  assert all(type(dense) is int for dense, _ in macs.values())


def test_latency_default_batch_sizes():
  m, v = _init('mlp_64')
  lat = metrics.latency_ms(m.apply, v, np.zeros((1024, 28, 28, 1),
                                                np.float32), repeats=1)
  assert set(lat) == {'batch_1', 'batch_1024'}
  assert all(ms > 0 for ms in lat.values())


def test_unknown_model_raises():
  with pytest.raises(ValueError, match="Unknown model 'lenet7'"):
    models.get_model('lenet7')

