"""conv_pool: a convolution and its 2x2 max pool on pixel blocks, against
nn.Conv + nn.max_pool; LeNet5(lowering='blocked') against the default."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress import conv_pool, models, timing

# (input shape, kernel size, features, block side): LeNet-5's two
# convolutions dense and shrunk to 9-18-25 at the block sides
# `conv_pool.factor` picks, the other side for each, a 3x3 kernel, a
# non-square input and three input channels.
CASES = [((3, 28, 28, 1), 5, 20, 4), ((3, 12, 12, 20), 5, 50, 2),
         ((3, 28, 28, 1), 5, 9, 4), ((3, 12, 12, 9), 5, 18, 2),
         ((3, 28, 28, 1), 5, 9, 2), ((2, 16, 16, 9), 5, 4, 4),
         ((2, 10, 14, 6), 3, 7, 2), ((2, 28, 28, 3), 5, 8, 4)]


@jax.jit
def _reference(x, k, b):
  y = jax.lax.conv_general_dilated(x, k, (1, 1), 'VALID',
                                   dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return nn.max_pool(y + b, (2, 2), (2, 2))


@pytest.mark.parametrize('shape,size,features,f', CASES)
def test_equals_conv_then_pool(shape, size, features, f):
  rng = np.random.default_rng(0)
  x = jnp.asarray(rng.normal(size=shape), jnp.float32)
  k = jnp.asarray(rng.normal(size=(size, size, shape[-1], features)) /
                  size / np.sqrt(shape[-1]), jnp.float32)
  b = jnp.asarray(rng.normal(size=features), jnp.float32)
  ref = _reference(x, k, b)
  blocked = jax.jit(conv_pool.conv_pool_2x2, static_argnums=3)
  got = blocked(x, k, b, f)
  assert got.shape == ref.shape
  np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
  np.testing.assert_allclose(blocked(x, k, None, f),
                             _reference(x, k, 0.0), atol=1e-5, rtol=0)


def test_blocked_kernel_holds_the_kernel_values():
  k = jnp.arange(1, 5 * 5 * 2 * 3 + 1, dtype=jnp.float32).reshape(5, 5, 2, 3)
  kb = np.asarray(conv_pool.blocked_kernel(k, 4))
  assert kb.shape == (2, 2, 32, 48)
  # Each of the 16 output positions of a block reads every tap once.
  values, counts = np.unique(kb[kb != 0], return_counts=True)
  np.testing.assert_array_equal(values, np.arange(1, 151))
  np.testing.assert_array_equal(counts, np.full(150, 16))


@pytest.mark.parametrize('shape,size,f,match', [
    ((1, 28, 28, 1), 5, 3, 'even'),
    ((1, 28, 28, 1), 3, 4, 'divide kernel size - 1'),
    ((1, 26, 26, 1), 5, 4, 'tiled'),
    ((1, 4, 4, 1), 5, 2, 'smaller'),
    ((28, 28, 1), 5, 2, 'NHWC')])
def test_bad_shapes_are_refused(shape, size, f, match):
  x = jnp.zeros(shape)
  k = jnp.zeros((size, size, shape[-1], 2))
  with pytest.raises(ValueError, match=match):
    conv_pool.conv_pool_2x2(x, k, None, f)


@pytest.mark.parametrize('features', [(20, 50, 500), (9, 18, 25)])
def test_lenet5_blocked_equals_default(features):
  model = models.get_model('lenet5', features=features)
  blocked = model.clone(lowering='blocked')
  x = jax.random.normal(jax.random.PRNGKey(1), (16, 28, 28, 1))
  variables = jax.jit(model.init)(jax.random.PRNGKey(0), x[:1])
  same_tree = jax.tree.map(
      lambda a, b: a.shape == b.shape, variables,
      jax.eval_shape(blocked.init, jax.random.PRNGKey(0), x[:1]))
  assert all(jax.tree.leaves(same_tree))
  np.testing.assert_allclose(jax.jit(blocked.apply)(variables, x),
                             jax.jit(model.apply)(variables, x), atol=1e-5,
                             rtol=0)


def test_lenet5_blocked_refuses_training_batch_norm_and_unknown():
  x = jnp.zeros((1, 28, 28, 1))
  v = models.get_model('lenet5').init(jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match='inference'):
    models.get_model('lenet5', lowering='blocked').apply(v, x, train=True)
  with pytest.raises(ValueError, match='batch norm'):
    models.get_model('lenet5', lowering='blocked', batch_norm=True).init(
        jax.random.PRNGKey(0), x)
  with pytest.raises(ValueError, match="'winograd'"):
    models.get_model('lenet5', lowering='winograd').init(
        jax.random.PRNGKey(0), x)


def test_lenet5_blocked_counts_the_same_flops_and_is_not_traced():
  from jaxcompress import metrics, structured
  model = models.get_model('lenet5', features=(9, 18, 25))
  x = jnp.zeros((1, 28, 28, 1))
  variables = model.init(jax.random.PRNGKey(0), x)
  blocked = model.clone(lowering='blocked')
  ref = metrics.summarize(model, variables, x)
  got = metrics.summarize(blocked, variables, x)
  assert got['flops_dense'] == ref['flops_dense'] == 2 * (
      24 * 24 * 9 * 25 + 8 * 8 * 18 * 25 * 9 + 288 * 25 + 25 * 10)
  with pytest.raises(ValueError, match="lowering='xla'"):
    structured.trace_groups(blocked, variables, (28, 28, 1))


def test_factor():
  assert conv_pool.factor(1, 5) == 4
  assert conv_pool.factor(9, 5) == 2
  assert conv_pool.factor(1, 3) == 2


def test_fastest_names_the_fastest():
  import time
  fns = {'slow': lambda: time.sleep(0.02), 'fast': lambda: None}
  assert timing.fastest(fns, 3, warmup=0) == 'fast'
