"""Structure scores, activation statistics and the structured mask transform,
on tiny hand-made models with hand-computed expected values, under jit."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import assert_trained, tiny_config

import jaxcompress.structured as st
from jaxcompress import pipelines
from jaxcompress.plugins import default_section
from jaxcompress.pruning import schedules


class Tiny(nn.Module):
  """x (B, 2) -> fc1 (3 units) -> relu -> fc2 (2) -> relu -> fc3 (1)."""
  features: tuple = (3, 2)

  @nn.compact
  def __call__(self, x, train=False):
    x = x.reshape((x.shape[0], -1))
    for i, f in enumerate(self.features, 1):
      x = nn.relu(nn.Dense(f, name=f'fc{i}')(x))
    return nn.Dense(1, name=f'fc{len(self.features) + 1}')(x)


class TinyBN(nn.Module):
  """conv (2 ch) -> bn -> relu -> global mean -> dense (1 output)."""
  classes: int = 1

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.Conv(2, (1, 1), use_bias=False, name='conv')(x)
    x = nn.relu(nn.BatchNorm(use_running_average=not train, name='bn')(x))
    return nn.Dense(self.classes, name='head')(jnp.mean(x, axis=(1, 2)))


def _tiny_params():
  return {
      'fc1': {'kernel': jnp.array([[1., -2., 0.5], [1., 1., -0.5]]),
              'bias': jnp.array([0., 0., 0.])},
      'fc2': {'kernel': jnp.array([[1., 0.], [3., 0.], [0., 2.]]),
              'bias': jnp.array([0., 0.])},
      'fc3': {'kernel': jnp.array([[1.], [1.]]), 'bias': jnp.array([0.])},
  }


def _graph(model=Tiny(), shape=(1, 2)):
  v = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, *shape)))
  return st.trace_groups(model, v, shape)


def test_weight_norm_and_bn_scale_by_hand():
  g = _graph()
  s = jax.jit(st.weight_norm(g, 1))(_tiny_params())
  np.testing.assert_allclose(s['fc1'], [2., 3., 1.])
  np.testing.assert_allclose(s['fc2'], [4., 2.])
  s2 = jax.jit(st.weight_norm(g, 2))(_tiny_params())
  np.testing.assert_allclose(s2['fc1'], [np.sqrt(2), np.sqrt(5), np.sqrt(.5)],
                             rtol=1e-6)
  gb = _graph(TinyBN(), (2, 2, 1))
  assert [x.name for x in gb.prunable] == ['conv']
  params = {'conv': {'kernel': jnp.ones((1, 1, 1, 2))},
            'bn': {'scale': jnp.array([-0.5, 2.0]), 'bias': jnp.zeros(2)},
            'head': {'kernel': jnp.ones((2, 1)), 'bias': jnp.zeros(1)}}
  np.testing.assert_allclose(jax.jit(st.bn_scale(gb))(params)['conv'],
                             [0.5, 2.0])
  pen = st.bn_scale_penalty(gb, 0.1)
  assert float(jax.jit(pen)(params)) == pytest.approx(0.25)
  with pytest.raises(ValueError, match="'fc1' has no batch-norm scale"):
    st.bn_scale(g)


def test_activation_stats_by_hand():
  g = _graph()
  x = jnp.array([[1., 1.], [2., -1.]])
  # fc1 pre-activations: [[2,-1,0],[1,-5,1.5]] -> relu [[2,0,0],[1,0,1.5]]
  stats = jax.jit(lambda p: st.activation_stats(
      Tiny(), {'params': p}, g, x))(_tiny_params())
  np.testing.assert_allclose(stats['fc1']['mean'], [1.5, 0., 0.75])
  np.testing.assert_allclose(stats['fc1']['mean_abs'], [1.5, 0., 0.75])
  np.testing.assert_allclose(stats['fc1']['apoz'], [0., 1., 0.5])
  # fc2 = relu(h @ W2): [[2, 0], [1, 3]]
  np.testing.assert_allclose(stats['fc2']['apoz'], [0., 0.5])
  apoz_score = st.activation(Tiny(), g, x, 'apoz')(_tiny_params())
  np.testing.assert_allclose(apoz_score['fc1'], [-0., -1., -0.5])
  # The same score by name, as configs reach it.
  by_name = st.make_score('apoz', g, Tiny(), x)(_tiny_params())
  np.testing.assert_allclose(by_name['fc1'], [-0., -1., -0.5])
  mean = st.make_score('mean', g, Tiny(), x)(_tiny_params())
  np.testing.assert_allclose(mean['fc1'], [1.5, 0., 0.75])
  with pytest.raises(ValueError, match="Unknown structured score 'apz'"):
    st.make_score('apz', g, Tiny(), x)


def test_activation_stats_with_batch_statistics_by_hand():
  gb = _graph(TinyBN(), (2, 2, 1))
  # conv = (x, -x); x: image 0 pixels (1, 3, 1, 3), image 1 (5, 7, 5, 7).
  x = jnp.array([1., 3., 1., 3., 5., 7., 5., 7.]).reshape(2, 2, 2, 1)
  v = {'params': {'conv': {'kernel': jnp.array([[[[1., -1.]]]])},
                  'bn': {'scale': jnp.ones(2), 'bias': jnp.zeros(2)},
                  'head': {'kernel': jnp.ones((2, 1)), 'bias': jnp.zeros(1)}},
       'batch_stats': {'bn': {'mean': jnp.full(2, 5.), 'var': jnp.full(2, 4.)}}}
  # Batch statistics: mean +-4, var 5 -> relu((x - 4) / sqrt(5)) averaged
  # over pixels: image 0: 0, image 1: 2 / sqrt(5); channel 1 mirrored.
  stats = st.activation_stats(TinyBN(), v, gb, x, use_batch_stats=True)
  r = 1 / np.sqrt(5 + 1e-5)
  np.testing.assert_allclose(stats['conv']['mean'], [r, r], rtol=1e-5)
  np.testing.assert_allclose(stats['conv']['apoz'], [0.5, 0.5])
  # Running statistics (mean 5, var 4): relu((x - 5) / 2): 0 and 0.5 for
  # channel 0; channel 1 is all zero.
  stats = st.activation_stats(TinyBN(), v, gb, x)
  np.testing.assert_allclose(stats['conv']['mean'], [0.25, 0.], atol=1e-5)
  # The score functions pass the batch statistics on (and use the batch's).
  score = st.activation(TinyBN(), gb, x, 'mean',
                        batch_stats=v['batch_stats'])
  np.testing.assert_allclose(score(v['params'])['conv'], [r, r], rtol=1e-5)
  m3 = TinyBN(classes=3)
  p3 = m3.init(jax.random.PRNGKey(0), x)['params']
  p3 = {**p3, 'conv': v['params']['conv']}
  y = jnp.array([0, 2])
  taylor = st.taylor(m3, gb, x, y, batch_stats=v['batch_stats'])(p3)
  direct = st.taylor_scores(m3, {**v, 'params': p3}, gb, x, y,
                            use_batch_stats=True)
  running = st.taylor_scores(m3, {**v, 'params': p3}, gb, x, y)
  np.testing.assert_allclose(taylor['conv'], direct['conv'], rtol=1e-6)
  assert np.all(np.asarray(taylor['conv']) > 0)
  assert not np.allclose(taylor['conv'], running['conv'])


def test_apply_unit_masks_keeps_entries_of_kept_units_only():
  g = _graph()
  p = _tiny_params()
  masks = {'fc1': jnp.array([True, False, True]),
           'fc2': jnp.array([False, True])}
  out = jax.jit(lambda p: st.apply_unit_masks(g, p, masks))(p)
  np.testing.assert_array_equal(out['fc1']['kernel'],
                                [[1., 0., 0.5], [1., 0., -0.5]])
  # fc2's entry (i, j) survives only if fc1 unit i and fc2 unit j both do.
  np.testing.assert_array_equal(out['fc2']['kernel'],
                                [[0., 0.], [0., 0.], [0., 2.]])
  np.testing.assert_array_equal(out['fc3']['kernel'], [[0.], [1.]])
  np.testing.assert_array_equal(out['fc3']['bias'], p['fc3']['bias'])


def test_taylor_by_hand():
  g = _graph()
  x = jnp.array([[1., 1.], [2., -1.]])
  y = jnp.array([0, 0])
  # Loss = mean of the output (one logit); dL/dh1 = W2 @ W3 * relu'(z2) / B.
  loss = lambda logits, _: jnp.mean(logits)
  t = jax.jit(lambda p: st.taylor_scores(Tiny(), {'params': p}, g, x, y,
                                         loss))(_tiny_params())
  # h1 = [[2,0,0],[1,0,1.5]]; z2 = [[2,0],[1,3]] -> relu' = [[1,0],[1,1]]
  # dL/dh1 row n = (W2 @ (relu'(z2[n]) * W3)) / 2:
  #   n=0: [1,3,0]/2, n=1: [1,3,2]/2 ; a*g = [[1,0,0],[.5,0,1.5]]
  np.testing.assert_allclose(t['fc1'], [0.75, 0., 0.75])
  # Signs that differ across the batch: the mean is of |a*g| per example.
  # W2 = [[1, -1], [3, 0], [0, 2]], W3 = [1, 3]: z2 = [[2, -2], [1, 2]],
  # dL/dh1 = W2 @ (relu'(z2[n]) * W3) / 2 = [.5, 1.5, 0], [-1, 1.5, 3];
  # a*g = [1, 0, 0], [-1, 0, 4.5]; for fc2 a*g = [1, 0], [.5, 3].
  p = _tiny_params()
  p['fc2']['kernel'] = jnp.array([[1., -1.], [3., 0.], [0., 2.]])
  p['fc3']['kernel'] = jnp.array([[1.], [3.]])
  t = st.taylor_scores(Tiny(), {'params': p}, g, x, y, loss)
  np.testing.assert_allclose(t['fc1'], [1., 0., 2.25])
  np.testing.assert_allclose(t['fc2'], [0.75, 1.5])


def test_flatten_tiling_folds_positions_per_channel():
  class ConvFlat(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
      x = nn.Conv(2, (1, 1), name='conv')(x)         # (B, 2, 1, 2)
      x = nn.Dense(1, name='fc')(x.reshape((x.shape[0], -1)))
      return x
  m = ConvFlat()
  g = _graph(m, (2, 1, 1))
  params = {'conv': {'kernel': jnp.array([[[[1., -1.]]]]),
                     'bias': jnp.zeros(2)},
            'fc': {'kernel': jnp.ones((4, 1)), 'bias': jnp.zeros(1)}}
  x = jnp.array([[[[1.]], [[-2.]]]])  # one example, two positions
  s = st.activation_stats(m, {'params': params}, g, x)
  # channel 0 sees [1, -2], channel 1 sees [-1, 2] (flat order h, w, c).
  np.testing.assert_allclose(s['conv']['mean'], [-0.5, 0.5])
  np.testing.assert_allclose(s['conv']['mean_abs'], [1.5, 1.5])


def test_group_targets_and_errors():
  g = _graph()
  assert st.group_targets(g, 0.5) == {'fc1': 2, 'fc2': 1}
  assert st.group_targets(g, 0.5, [('fc2', None)]) == {'fc1': 2}
  with pytest.raises(ValueError, match="'fc2'.*removes all 2"):
    st.group_targets(g, 0.5, [('fc2', 1.0)])
  with pytest.raises(ValueError, match="'fc3' cannot be pruned"):
    st.group_targets(g, 0.0, [('fc3', 0.5)])
  with pytest.raises(ValueError, match='match no parameter'):
    st.group_targets(g, 0.5, [('conv9', 0.5)])
  for bad in (-0.5, 1.5):
    with pytest.raises(ValueError, match=r'outside \[0, 1\]'):
      st.group_targets(g, bad)


def test_mask_transform_is_exact_after_apply_updates():
  g = _graph()
  params = _tiny_params()
  tx = optax.chain(
      optax.adamw(0.1, weight_decay=0.1),
      st.structured_mask(g, {'fc1': 1}, st.weight_norm(g, 1),
                         schedules.OneShot(1)))
  state = tx.init(params)
  grads = jax.tree.map(jnp.ones_like, params)

  @jax.jit
  def step(params, state):
    u, state = tx.update(grads, state, params)
    return optax.apply_updates(params, u), state

  p1, state = step(params, state)          # count 0: no pruning yet
  assert bool(st.find_state(state).masks['fc1'].all())
  p2, state = step(p1, state)              # count 1: one-shot at step 1
  mask = np.asarray(st.find_state(state).masks['fc1'])
  # Scores of p1 (after one Adam step of -0.1 and decay): unit 2 is lowest.
  np.testing.assert_array_equal(mask, [True, True, False])
  for _ in range(3):
    p2, state = step(p2, state)
  assert np.all(np.asarray(p2['fc1']['kernel'])[:, 2] == 0.0)
  assert np.asarray(p2['fc1']['bias'])[2] == 0.0
  assert np.all(np.asarray(p2['fc2']['kernel'])[2, :] == 0.0)
  assert np.all(np.asarray(p2['fc1']['kernel'])[:, :2] != 0.0)
  small, sv = st.shrink(Tiny(), {'params': p2}, input_shape=(1, 2))
  assert tuple(small.features) == (2, 2)
  x = jnp.array([[0.3, -0.7]])
  np.testing.assert_allclose(small.apply(sv, x),
                             Tiny().apply({'params': p2}, x),
                             rtol=1e-6)


def test_global_distribution_and_ties():
  g = _graph()
  scores = lambda p: {'fc1': jnp.array([5., 0.1, 0.2]),
                      'fc2': jnp.array([0.3, 4.])}
  tx = st.structured_mask(g, {'fc1': 1, 'fc2': 1}, scores,
                          schedules.OneShot(0), 'global')
  s = tx.init(_tiny_params())
  _, s = jax.jit(tx.update)(_tiny_params(), s, _tiny_params())
  # Two removed from the pool of five: the 0.1 and 0.2 units of fc1.
  np.testing.assert_array_equal(s.masks['fc1'], [True, False, False])
  np.testing.assert_array_equal(s.masks['fc2'], [True, True])
  tied = st.structured_mask(g, {'fc1': 1, 'fc2': 1}, scores,
                            schedules.OneShot(0), 'global',
                            ties=[['fc1', 'fc2']])
  s = tied.init(_tiny_params())
  _, s = jax.jit(tied.update)(_tiny_params(), s, _tiny_params())
  # Tied: both keep round(mean(1, 2)) = 2 units (half to even).
  np.testing.assert_array_equal(s.masks['fc1'], [True, False, True])
  np.testing.assert_array_equal(s.masks['fc2'], [True, True])
  # A partner that loses nothing does not veto the others: counts (1, 2, 3)
  # of sizes (3, 2, 3) -> each keeps 2.
  g3 = _graph(Tiny(features=(3, 2, 3)))
  p3 = jax.tree.map(jnp.zeros_like, jax.eval_shape(
      Tiny(features=(3, 2, 3)).init, jax.random.PRNGKey(0), jnp.zeros((1, 2))))
  sc3 = lambda p: {'fc1': jnp.array([5., 0.1, 0.2]),
                   'fc2': jnp.array([0.3, 4.]),
                   'fc3': jnp.array([6., 7., 8.])}
  tx3 = st.structured_mask(g3, {'fc1': 1, 'fc2': 1, 'fc3': 1}, sc3,
                           schedules.OneShot(0), 'global',
                           ties=[['fc1', 'fc2', 'fc3']])
  s3 = tx3.init(p3['params'])
  _, s3 = jax.jit(tx3.update)(p3['params'], s3, p3['params'])
  assert [int(s3.masks[n].sum()) for n in ('fc1', 'fc2', 'fc3')] == [2, 2, 2]


def test_plugin_end_to_end_shrinks_after_training(tmp_path):
  from jaxcompress import train
  c = tiny_config(model='mlp_30_30', num_train_steps=60, steps_per_call=20)
  c.structured = default_section('structured')
  c.structured.score = 'apoz'
  c.structured.sparsity = 0.5
  c.structured.step = 20
  c.structured.calibration_examples = 256
  _, r = train.train_and_evaluate(c, None)
  rep = r['structured']
  assert rep['widths'] == {'fc1': 15, 'fc2': 15, 'fc3': 10}
  assert rep['test_error'] == pytest.approx(r['test_error'], abs=1e-3)
  assert rep['max_logit_diff_vs_masked'] < 1e-4
  assert rep['num_params'] == 784 * 15 + 15 + 15 * 15 + 15 + 15 * 10 + 10
  assert_trained(rep['test_error'], 0.2, model='mlp_30_30')


def test_plugin_rejects_bad_config(tmp_path):
  from jaxcompress import train
  c = tiny_config(model='mlp_30_30')
  c.structured = default_section('structured')
  c.structured.rules = (('fc2', 1.0),)
  with pytest.raises(ValueError, match="'fc2'.*removes all 30"):
    train.train_and_evaluate(c, None)


def test_prune_shrink_finetune_small_model_starts_from_the_shrunk_weights():
  c = tiny_config(model='lenet_300_100', num_train_steps=40,
                  pipeline='prune_shrink_finetune')
  c.structured = default_section('structured')
  c.structured.score = 'l2'
  c.structured.rules = (('fc1', 0.8), ('fc2', 0.7))
  c.structured.step = 10
  c.structured.finetune_epochs = 0.625   # 20 steps on 2,048 images
  c.structured.finetune_learning_rate = 1e-9  # ~frozen: stage 2 = stage 1
  _, r = pipelines.run(c, None)
  assert r['shrunk_model_kwargs'] == {'features': (60, 30)}
  assert r['num_params'] == 784 * 60 + 60 + 60 * 30 + 30 + 30 * 10 + 10
  # Stage 2 starts from the sliced params: with a vanishing learning rate
  # the small model scores what the shrunk stage-1 model scored.
  assert r['test_error'] == pytest.approx(
      r['prune_stage']['structured']['test_error'], abs=1e-3)
  assert_trained(r['test_error'], 0.22)
  assert r['prune_stage']['structured']['widths']['fc1'] == 60


def test_input_group_scores_by_hand():
  m = Tiny()
  v = jax.eval_shape(m.init, jax.random.PRNGKey(0), jnp.zeros((1, 1, 2)))
  g = st.trace_groups(m, v, (1, 2), inputs=True)
  # No producing weights: the norms of the rows that read each input.
  s = jax.jit(st.weight_norm(g, 1, ['input']))(_tiny_params())
  np.testing.assert_allclose(s['input'], [3.5, 2.5])
  x = jnp.array([[[1., -2.]], [[0., 4.]]])
  a = jax.jit(lambda p: st.activation_stats(
      m, {'params': p}, g, x, ['input']))(_tiny_params())['input']
  np.testing.assert_allclose(a['mean'], [0.5, 1.0])
  np.testing.assert_allclose(a['mean_abs'], [0.5, 3.0])
  np.testing.assert_allclose(a['apoz'], [0.5, 0.0])


def test_prune_shrink_finetune_removes_input_pixels(tmp_path):
  from jaxcompress import train
  c = tiny_config(model='lenet_300_100', num_train_steps=40,
                  pipeline='prune_shrink_finetune')
  c.structured = default_section('structured')
  c.structured.score = 'l2'
  c.structured.inputs = True
  c.structured.rules = (('input', 0.5), ('fc1', 0.8), ('fc2', 0.7))
  c.structured.step = 10
  c.structured.finetune_epochs = 0.625
  c.structured.finetune_learning_rate = 1e-9
  _, r = pipelines.run(c, str(tmp_path))
  assert r['prune_stage']['structured']['widths']['input'] == 392
  assert_trained(r['test_error'], 0.25)
  kw = r['shrunk_model_kwargs']
  assert kw['features'] == (60, 30) and len(kw['inputs']) == 392
  assert r['num_params'] == 392 * 60 + 60 + 60 * 30 + 30 + 30 * 10 + 10
  assert r['test_error'] == pytest.approx(
      r['prune_stage']['structured']['test_error'], abs=1e-3)
  # The small model loads back from its workdir (kept pixels from JSON).
  model, variables, _ = train.load_run(str(tmp_path / 'finetune'))
  assert model.inputs == tuple(kw['inputs']) and hash(model)
  assert variables['params']['fc1']['kernel'].shape == (392, 60)
