"""The compiled pieces of training (jaxcompress.train.step) on hand-made data:
one train step against the hand gradient, epochs that visit every example
once, evaluation with a padded last batch, jitter."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxcompress.plugins import Plugin
from jaxcompress.train import step


def _sharding():
  return NamedSharding(step.data_mesh(), P('data'))


def _log_softmax(z):
  z = np.asarray(z, np.float64)
  m = z.max(axis=-1, keepdims=True)
  return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def _logits_are_inputs(variables, x, train=False):
  """A 'model' whose logits are its inputs plus a bias that favours class 1
  (so an all-zero padding example is predicted as 1, not as its label 0)."""
  del train
  return x + variables['bias']


def test_evaluate_counts_a_padded_last_batch_by_hand():
  logits = np.array([[2., 0., 0.], [0., 3., 1.], [0., 0., 1.], [5., 1., 0.],
                     [0., 2., 4.], [1., 0., 0.], [0., 0., 2.]], np.float32)
  labels = np.array([0, 1, 1, 0, 2, 2, 2], np.int32)
  # Predictions 0, 1, 2, 0, 2, 0, 2: wrong at examples 2 and 5.
  bias = np.array([0., 0.5, 0.], np.float32)
  variables = {'bias': bias}
  # 7 examples in batches of 4: the second batch has one padding example.
  evaluate = step.make_evaluate(None, 4, _sharding(), logits, labels)
  out = evaluate(variables, _logits_are_inputs)
  assert out['errors'] == 2
  assert out['error'] == pytest.approx(2 / 7)
  loss = -_log_softmax(logits + bias)[np.arange(7), labels].mean()
  assert out['loss'] == pytest.approx(loss, rel=1e-6)


def _inputs_in_eval_mode_only(variables, x, train=False):
  """Logits that are the inputs in inference mode and garbage in train
  mode (as batch norm or dropout would differ)."""
  return x + variables['bias'] if not train else -x


def test_evaluate_runs_the_model_in_inference_mode():
  logits = np.array([[2., 0.], [0., 3.], [1., 0.]], np.float32)
  labels = np.array([0, 1, 1], np.int32)   # wrong at example 2 only
  evaluate = step.make_evaluate(None, 3, _sharding(), logits, labels)
  out = evaluate({'bias': np.zeros(2, np.float32)}, _inputs_in_eval_mode_only)
  assert out['errors'] == 1


class _Linear(nn.Module):

  @nn.compact
  def __call__(self, x, train=False):
    return nn.Dense(3, name='fc')(x.reshape((x.shape[0], -1)))


def _linear_setup():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(4, 2, 1, 1)).astype(np.float32)
  y = np.array([0, 2, 1, 2], np.int32)
  w = rng.normal(size=(2, 3)).astype(np.float32)
  b = np.array([0.1, -0.2, 0.3], np.float32)
  return x, y, {'fc': {'kernel': jnp.asarray(w), 'bias': jnp.asarray(b)}}


def _hand_ce_and_grads(x, y, params):
  """Mean softmax cross-entropy and its gradients, by hand (numpy)."""
  x = x.reshape(len(x), -1).astype(np.float64)
  w = np.asarray(params['fc']['kernel'], np.float64)
  b = np.asarray(params['fc']['bias'], np.float64)
  logp = _log_softmax(x @ w + b)
  onehot = np.eye(3)[y]
  loss = -np.mean(np.sum(onehot * logp, axis=1))
  d = (np.exp(logp) - onehot) / len(y)
  acc = np.mean(np.argmax(logp, axis=1) == y)
  return loss, x.T @ d, d.sum(axis=0), acc


@pytest.mark.parametrize('with_penalty', [False, True])
def test_train_step_is_one_sgd_step_on_the_hand_gradient(with_penalty):
  x, y, params = _linear_setup()
  lr = 0.5
  plugins = ()
  if with_penalty:   # 0.5 * 0.3 * |W|^2: adds 0.3 W to the kernel gradient
    plugins = (Plugin('l2', penalty=lambda p: 0.15 * jnp.sum(
        p['fc']['kernel'] ** 2)),)
  tx = optax.sgd(lr)
  state = step.create_train_state({'params': params}, tx, plugins)
  train_step = jax.jit(step.make_train_step(_Linear(), tx, plugins,
                                            _sharding(), seed=0))
  new, metrics = train_step(state, {'image': x, 'label': y})
  loss, gw, gb, acc = _hand_ce_and_grads(x, y, params)
  w = np.asarray(params['fc']['kernel'], np.float64)
  if with_penalty:
    loss += 0.15 * np.sum(w ** 2)
    gw = gw + 0.3 * w
  assert int(new.step) == 1
  assert float(metrics['loss']) == pytest.approx(loss, rel=1e-5)
  assert float(metrics['accuracy']) == acc
  np.testing.assert_allclose(new.params['fc']['kernel'], w - lr * gw,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(new.params['fc']['bias'],
                             np.asarray(params['fc']['bias']) - lr * gb,
                             rtol=1e-5, atol=1e-6)


def test_plugin_loss_params_fn_and_aux_enter_the_step():
  x, y, params = _linear_setup()
  # The forward pass sees params scaled by the plugin's trainable aux array
  # (initially 2.0); the task loss is replaced by the mean logit of class 0.
  scale = Plugin('scale', aux_init=lambda p: jnp.float32(2.0),
                 params_fn=lambda p, a: jax.tree.map(lambda v: v * a, p))
  loss = Plugin('loss', loss_fn=lambda logits, batch: jnp.mean(logits[:, 0]))
  plugins = (scale, loss)
  tx = optax.sgd(0.1)
  state = step.create_train_state({'params': params}, tx, plugins,
                                  aux_tx=tx)
  assert float(state.aux['scale']) == 2.0
  train_step = jax.jit(step.make_train_step(_Linear(), tx, plugins,
                                            _sharding(), seed=0, aux_tx=tx))
  new, metrics = train_step(state, {'image': x, 'label': y})
  flat = x.reshape(4, -1).astype(np.float64)
  w = np.asarray(params['fc']['kernel'], np.float64)
  b = np.asarray(params['fc']['bias'], np.float64)
  # L = mean_n (2 (x_n w[:, 0] + b_0)); dL/dw[:, 0] = 2 mean_n x_n,
  # dL/db_0 = 2, dL/da = mean_n (x_n w[:, 0] + b_0).
  assert float(metrics['loss']) == pytest.approx(
      np.mean(2 * (flat @ w[:, 0] + b[0])), rel=1e-5)
  gw = np.zeros_like(w)
  gw[:, 0] = 2 * flat.mean(axis=0)
  np.testing.assert_allclose(new.params['fc']['kernel'], w - 0.1 * gw,
                             rtol=1e-5, atol=1e-6)
  ga = np.mean(flat @ w[:, 0] + b[0])
  assert float(new.aux['scale']) == pytest.approx(2.0 - 0.1 * ga, rel=1e-5)
  with pytest.raises(ValueError, match='At most one plugin'):
    step.make_train_step(_Linear(), tx, (loss, loss), _sharding(), seed=0)


def test_make_apply_and_bind_aux():
  _, _, params = _linear_setup()
  x = np.ones((1, 2, 1, 1), np.float32)
  calls = []

  def wrap(apply):
    def wrapped(variables, *a, **kw):
      calls.append('wrap')
      return apply(variables, *a, **kw)
    return wrapped

  plugins = (Plugin('add', params_fn=lambda p, a: jax.tree.map(
      lambda v: v + a, p)),
             Plugin('double', params_fn=lambda p, a: jax.tree.map(
                 lambda v: v * 2, p), wrap_apply=wrap))
  apply_fn = step.make_apply(_Linear(), plugins)
  out = step.bind_aux(apply_fn, {'add': 1.0})({'params': params}, x)
  # (params + 1) * 2, in the plugins' order.
  w = (np.asarray(params['fc']['kernel']) + 1) * 2
  b = (np.asarray(params['fc']['bias']) + 1) * 2
  np.testing.assert_allclose(out, x.reshape(1, -1) @ w + b, rtol=1e-6)
  assert calls == ['wrap']
  assert step.bind_aux(apply_fn, {}) is apply_fn


def _count_step(state, batch):
  """Counts how often each example is seen and logs each step's indices."""
  p = state.params
  p = {'counts': p['counts'].at[batch['idx']].add(1),
       'log': p['log'].at[state.step].set(batch['idx'])}
  return (state.replace(step=state.step + 1, params=p),
          {'loss': jnp.sum(batch['idx']).astype(jnp.float32)})


def test_train_chunk_visits_every_example_once_per_epoch():
  n, batch, per_call = 12, 4, 2          # 3 steps per epoch, calls of 2
  state = step.TrainState(
      step=jnp.int32(0), batch_stats={}, opt_state=(),
      params={'counts': jnp.zeros(n, jnp.int32),
              'log': jnp.zeros((6, batch), jnp.int32)})
  chunk = jax.jit(step.make_train_chunk(_count_step, per_call, 3, batch,
                                        seed=0))
  arrays = {'idx': jnp.arange(n)}
  means = []
  for _ in range(3):                     # the second call spans two epochs
    state, m = chunk(state, arrays)
    means.append(float(m['loss']))
  log = np.asarray(state.params['log'])
  assert int(state.step) == 6
  np.testing.assert_array_equal(state.params['counts'], np.full(n, 2))
  for epoch in (log[:3], log[3:]):
    assert sorted(epoch.reshape(-1).tolist()) == list(range(n))
  assert not np.array_equal(log[:3], log[3:])   # reshuffled every epoch
  sums = log.sum(axis=1)
  assert means == [pytest.approx(sums[i:i + 2].mean()) for i in (0, 2, 4)]


def test_jitter_translates_by_at_most_the_given_pixels():
  images = jax.random.normal(jax.random.key(0), (16, 6, 5, 1))
  assert step.jitter(images, jax.random.key(1), 0) is images
  out = np.asarray(step.jitter(images, jax.random.key(1), 2))
  padded = np.pad(np.asarray(images), ((0, 0), (2, 2), (2, 2), (0, 0)),
                  constant_values=float(images.min()))
  shifts = []
  for i in range(16):
    found = [(dy, dx) for dy in range(5) for dx in range(5)
             if np.array_equal(out[i], padded[i, dy:dy + 6, dx:dx + 5])]
    assert found, i
    shifts.append(found[0])
  assert len(set(shifts)) > 3            # random offsets, not one fixed shift


def test_train_state_variables_and_creation():
  _, _, params = _linear_setup()
  tx = optax.sgd(0.1, momentum=0.9)
  state = step.create_train_state({'params': params}, tx)
  assert int(state.step) == 0 and state.aux == {} and state.aux_opt_state == {}
  assert set(state.variables()) == {'params'}
  shapes = jax.tree.map(np.shape, state.opt_state)
  assert shapes == jax.tree.map(np.shape, tx.init(params))
  stats = {'bn': {'mean': jnp.zeros(3)}}
  state = step.create_train_state({'params': params, 'batch_stats': stats},
                                  tx)
  assert set(state.variables()) == {'params', 'batch_stats'}
