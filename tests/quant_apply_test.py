"""Rules over params, the fake-quant transform, activation interception."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcompress.quantization import apply as A
from jaxcompress.quantization.quantizers import QuantSpec


def _params():
  return {'fc1': {'kernel': jnp.array([[0.5, -1.0], [0.26, 0.1]]),
                  'bias': jnp.array([0.3, -0.3])},
          'fc2': {'kernel': jnp.array([[2.0], [-0.7]]),
                  'bias': jnp.array([0.05])}}


def test_rules_pick_specs_and_quantize_hand_computed():
  params = _params()
  specs = A.weight_specs(params, [('fc2/kernel', QuantSpec(2)),
                                  ('fc1/kernel', QuantSpec(2, axis=-1))])
  assert specs['fc1']['bias'] is None
  out = jax.jit(lambda p: A.quantize_params(p, specs))(params)
  # fc1 per output column, 2-bit symmetric (q in -1..1): s = colmax.
  np.testing.assert_allclose(out['fc1']['kernel'], [[0.5, -1.0], [0.5, 0.0]])
  # fc2 per tensor: s = 2, -0.7/2 = -0.35 -> 0.
  np.testing.assert_allclose(out['fc2']['kernel'], [[2.0], [0.0]])
  np.testing.assert_array_equal(out['fc1']['bias'], params['fc1']['bias'])


def test_rule_errors():
  params = _params()
  with pytest.raises(ValueError, match='match no parameter'):
    A.weight_specs(params, [('conv', QuantSpec(8))])
  with pytest.raises(ValueError, match='fc1/bias.*out of range'):
    A.weight_specs(params, [('fc1', QuantSpec(8, axis=1))])
  with pytest.raises(ValueError, match='QuantSpec or None'):
    A.weight_specs(params, [('kernel', 8)])
  with pytest.raises(ValueError, match='per tensor'):
    A.act_specs(params, [('fc1', QuantSpec(8, axis=0))])
  with pytest.raises(ValueError, match='Unknown weight range method'):
    A.quantize_params(params, A.weight_specs(params, []), 'kl')


def test_params_fn_gradient_is_straight_through():
  params = _params()
  specs = A.weight_specs(params, [('kernel', QuantSpec(4))])
  loss = lambda p: sum(jnp.sum(leaf * 3.0) for leaf in jax.tree.leaves(
      A.quantize_params(p, specs)))
  grads = jax.jit(jax.grad(loss))(params)
  for g in jax.tree.leaves(grads):
    np.testing.assert_allclose(g, 3.0)


def test_sparsity_preserving_qat_keeps_pruned_weights_zero():
  """Mask applied by the optimizer chain, then quantized: zeros stay zero."""
  key = jax.random.key(0)
  params = {'w': jax.random.normal(key, (16, 8))}
  mask = {'w': jax.random.bernoulli(jax.random.key(1), 0.3, (16, 8))}
  params = jax.tree.map(lambda p, m: p * m, params, mask)

  def keep_masked():   # what the pruning transform guarantees
    def update(u, s, p):
      return jax.tree.map(lambda u, p, m: (p + u) * m - p, u, p, mask), s
    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)

  tx = optax.chain(optax.sgd(0.1, momentum=0.9), keep_masked())
  x = jax.random.normal(jax.random.key(2), (32, 16))
  y = jax.random.normal(jax.random.key(3), (32, 8))
  for symmetric in (True, False):
    specs = A.weight_specs(params, [('w', QuantSpec(3, symmetric, axis=1))])

    @jax.jit
    def step(p, s):
      def loss(p):
        q = A.quantize_params(p, specs)
        return jnp.mean((x @ q['w'] - y) ** 2)
      g = jax.grad(loss)(p)
      u, s = tx.update(g, s, p)
      return optax.apply_updates(p, u), s

    p, s = params, tx.init(params)
    for _ in range(5):
      p, s = step(p, s)
    q = A.quantize_params(p, specs)['w']
    assert np.all(np.asarray(q)[~np.asarray(mask['w'])] == 0.0)
    assert np.count_nonzero(np.asarray(q)) > 0
    # preserve_sparsity holds even for weights quantizing to nonzero codes.
    q2 = A.quantize_params(p, specs, preserve_sparsity=True)['w']
    assert np.all(np.asarray(q2)[np.asarray(p['w']) == 0] == 0.0)


class _Tiny(nn.Module):

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.relu(nn.Dense(3, name='fc1')(x))
    return nn.Dense(2, name='fc2')(x)


def test_interception_quantizes_input_and_kernel_by_hand_with_ste_gradient():
  model = _Tiny()
  # Off the input grid (step 0.1, zero point 5, 4 bits: [-0.5, 1.0]); 1.26
  # is clipped to 1.0.
  x = jnp.array([[0.23, -0.47], [1.26, 0.61]])
  v = model.init(jax.random.key(0), x)
  k = np.array([[0.5, -1.27, 0.3], [0.254, 0.8, -0.6]], np.float32)
  b = np.array([0.1, -0.2, 0.05], np.float32)
  v = {'params': {**v['params'], 'fc1': {'kernel': jnp.asarray(k),
                                         'bias': jnp.asarray(b)}}}
  lq = A.LayerQuant(QuantSpec(8, axis=-1), QuantSpec(4, symmetric=False),
                    act_scale=np.float32(0.1), act_zero_point=np.float32(5.0))
  f = A.fake_quant_apply(model.apply, {'fc1': lq})
  out = jax.jit(f)(v, x)
  # By hand: codes clip(round(x / 0.1) + 5, 0, 15) = [[7, 0], [15, 11]].
  xq = np.array([[0.2, -0.5], [1.0, 0.6]])
  # Kernel per output column, 8-bit narrow symmetric: s = max|col| / 127.
  s_w = np.abs(k.astype(np.float64)).max(axis=0) / 127
  kq = s_w * np.clip(np.round(k / s_w), -127, 127)
  assert not np.allclose(kq, k, rtol=0, atol=1e-6)   # some are off the grid
  w2 = np.asarray(v['params']['fc2']['kernel'], np.float64)
  b2 = np.asarray(v['params']['fc2']['bias'], np.float64)
  z = xq @ kq + b
  ref = np.maximum(z, 0) @ w2 + b2
  np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
  assert not np.allclose(out, model.apply(v, x), rtol=1e-3, atol=1e-4)
  # Straight-through gradient of sum(out) w.r.t. x: that of xq @ kq inside
  # the input range, zero for the clipped entry.
  gx = jax.grad(lambda x: jnp.sum(f(v, x)))(x)
  dz = (z > 0) * w2.sum(axis=1)
  gref = dz @ kq.T * np.array([[1, 1], [0, 1]])
  np.testing.assert_allclose(gx, gref, rtol=1e-5, atol=1e-7)


def test_calibrate_layers_and_empty_set():
  model = _Tiny()
  x = np.asarray(jax.random.normal(jax.random.key(0), (40, 2)))
  v = model.init(jax.random.key(1), x)
  layers = {'fc1': A.LayerQuant(None, QuantSpec(8)),
            'fc2': A.LayerQuant(None, QuantSpec(8, symmetric=False))}
  cal = A.calibrate_layers(model.apply, v, x, layers, batch_size=16)
  np.testing.assert_allclose(cal['fc1'].act_scale,
                             np.abs(x).max() / 127, rtol=1e-6)
  h = np.maximum(x @ v['params']['fc1']['kernel'] + v['params']['fc1']['bias'],
                 0)
  np.testing.assert_allclose(cal['fc2'].act_scale, h.max() / 255, rtol=1e-5)
  assert cal['fc2'].act_zero_point == 0.0
  with pytest.raises(ValueError, match='empty'):
    A.calibrate_layers(model.apply, v, x[:0], layers)
