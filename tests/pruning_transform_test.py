"""The prune transformation: exact masking under any optimizer, one trace."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxcompress import pruning
from jaxcompress.pruning import schedules


def _params():
  k = jax.random.split(jax.random.key(0), 3)
  return {'fc1': {'kernel': jax.random.normal(k[0], (16, 8)),
                  'bias': jnp.ones(8)},
          'fc2': {'kernel': jax.random.normal(k[1], (8, 4)),
                  'bias': jnp.ones(4)}}


def _grads(params, t):
  # Gradients that push every weight (pruned ones included) away from zero.
  return jax.tree.map(lambda p: jnp.sin(p * 3.0 + t) + 0.5, params)


def _run(tx, params, steps):
  @jax.jit
  def step(params, state, t):
    updates, state = tx.update(_grads(params, t), state, params)
    return optax.apply_updates(params, updates), state
  state = tx.init(params)
  history = []
  for t in range(steps):
    params, state = step(params, state, jnp.float32(t))
    history.append((params, state))
  return history


@pytest.mark.parametrize('opt', [
    optax.sgd(0.1, momentum=0.9), optax.adam(0.1),
    optax.adamw(0.1, weight_decay=0.1), optax.lamb(0.1, weight_decay=0.1)],
    ids=['momentum', 'adam', 'adamw', 'lamb'])
def test_params_exactly_masked_with_any_optimizer(opt):
  params = _params()
  specs = pruning.layer_specs(params, 0.75)
  tx = optax.chain(opt, pruning.prune(specs, schedule=schedules.OneShot(1)))
  for t, (p, state) in enumerate(_run(tx, params, 6)):
    masks = pruning.find_state(state).masks
    for name in ('fc1', 'fc2'):
      w, m = np.asarray(p[name]['kernel']), np.asarray(masks[name]['kernel'])
      if t >= 1:
        # exactly zero where pruned, exact target count, though momentum and
        # Adam moments keep pushing the pruned weights.
        assert np.all(w[~m] == 0.0)
        assert m.sum() == w.size // 4
        assert np.count_nonzero(w) == w.size // 4
      else:
        assert m.all()
      assert np.count_nonzero(p[name]['bias']) == p[name]['bias'].size


def test_one_shot_hand_computed():
  params = {'w': jnp.array([[0.5, -4.0, 1.0], [2.0, -0.1, 3.0]]),
            'b': jnp.array([0.0, 1.0])}
  specs = pruning.layer_specs(params, 0.5)
  tx = pruning.prune(specs)   # magnitude, one-shot at step 0
  updates, state = jax.jit(tx.update)(
      jax.tree.map(jnp.zeros_like, params), tx.init(params), params)
  new = optax.apply_updates(params, updates)
  np.testing.assert_array_equal(new['w'], [[0, -4, 0], [2, 0, 3]])
  np.testing.assert_array_equal(new['b'], [0, 1])
  assert int(state.count) == 1


def test_global_threshold_hand_computed():
  params = {'a': {'kernel': jnp.array([[1., 2.], [3., 4.]])},
            'b': {'kernel': jnp.array([[0.5, 5.], [6., 0.1]])}}
  specs = pruning.layer_specs(params, 0.5, 'global')
  tx = pruning.prune(specs)
  updates, _ = jax.jit(tx.update)(jax.tree.map(jnp.zeros_like, params),
                                  tx.init(params), params)
  new = optax.apply_updates(params, updates)
  # keep the 4 largest of all 8: 6, 5, 4, 3
  np.testing.assert_array_equal(new['a']['kernel'], [[0, 0], [3, 4]])
  np.testing.assert_array_equal(new['b']['kernel'], [[0, 5], [6, 0]])


def test_han_std_rule_hand_computed():
  w = jnp.array([[-3., -1., 0.5, 1.], [1.5, 2., 2.5, 4.5]])   # (2, 4)
  params = {'w': w}
  specs = pruning.layer_specs(params, 1.0, 'std')   # quality 1.0
  tx = pruning.prune(specs, schedule=schedules.Iterative([0, 1]))
  state = tx.init(params)
  upd, state = jax.jit(tx.update)({'w': jnp.zeros_like(w)}, state, params)
  new = optax.apply_updates(params, upd)
  std = np.std(np.asarray(w))   # 2.1213 (mean 1, population std)
  assert std == pytest.approx(1.5 * np.sqrt(2))
  np.testing.assert_array_equal(new['w'] != 0, np.abs(w) >= std)
  # The second prune step uses the std of the survivors only.
  upd, state = jax.jit(tx.update)({'w': jnp.zeros_like(w)}, state, new)
  new2 = optax.apply_updates(new, upd)
  alive = np.asarray(new['w'])[np.asarray(new['w']) != 0]
  np.testing.assert_array_equal(new2['w'] != 0,
                                np.abs(new['w']) >= np.std(alive))


def test_han_std_rule_keeps_a_lone_survivor():
  # One weight left: the std of the survivors is 0 (mean = that weight), so
  # any quality keeps it; dividing by anything but the count would not.
  params = {'w': jnp.array([[0.8, -2.0], [0.3, 1.0]])}
  masks = {'w': np.array([[True, False], [False, False]])}
  specs = pruning.layer_specs(params, 3.0, 'std')
  tx = pruning.prune(specs, schedule=schedules.Iterative([0]),
                     initial_masks=masks)
  upd, state = jax.jit(tx.update)({'w': jnp.zeros((2, 2))},
                                  tx.init(params), params)
  np.testing.assert_array_equal(state.masks['w'], masks['w'])
  np.testing.assert_array_equal(optax.apply_updates(params, upd)['w'],
                                np.float32([[0.8, 0.0], [0.0, 0.0]]))


def test_plain_score_function_and_bad_score():
  # A plain (params, new_params, key) -> scores function is a score.
  params = {'w': jnp.array([[1., 2.], [3., 4.]])}
  specs = pruning.layer_specs(params, 0.5)
  smallest = lambda p, new, key: jax.tree.map(lambda w: -jnp.abs(w), new)
  tx = pruning.prune(specs, smallest)
  upd, _ = jax.jit(tx.update)({'w': jnp.zeros((2, 2))}, tx.init(params),
                              params)
  np.testing.assert_array_equal(optax.apply_updates(params, upd)['w'],
                                [[1., 2.], [0., 0.]])
  with pytest.raises(ValueError, match='must be a Score or a function'):
    pruning.prune(specs, 3)


def test_gradual_schedule_compiles_once():
  params = _params()
  specs = pruning.layer_specs(params, 0.9, 'global')
  sched = schedules.Polynomial(begin=2, end=12, every=2)
  tx = optax.chain(optax.adam(0.05), pruning.prune(specs, schedule=sched))

  @jax.jit
  @chex.assert_max_traces(n=1)
  def step(params, state, t):
    updates, state = tx.update(_grads(params, t), state, params)
    return optax.apply_updates(params, updates), state

  state = tx.init(params)
  kept = []
  for t in range(16):
    params, state = step(params, state, jnp.float32(t))
    kept.append(int(sum(m.sum() for m in jax.tree.leaves(
        pruning.find_state(state).masks) if m.ndim)))
  # six mask updates (steps 2, 4, ..., 12); the first is at fraction 0, the
  # other five each tighten the masks
  total = 16 * 8 + 8 * 4
  assert len(set(kept)) == 6
  assert kept[-1] == total - round(0.9 * total)
  assert kept == sorted(kept, reverse=True)


def test_random_and_saliency_scores_exact_counts():
  params = _params()
  specs = pruning.layer_specs(params, 0.6)
  images = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
  labels = np.zeros(4, np.int32)
  loss = lambda p, x, y: jnp.sum(
      jnp.tanh(x @ p['fc1']['kernel']) @ p['fc2']['kernel'])
  for score in (pruning.random(),
                pruning.saliency(loss, images, labels, batch_size=2,
                                 num_batches=2)):
    tx = pruning.prune(specs, score, seed=3)
    upd, st = jax.jit(tx.update)(jax.tree.map(jnp.zeros_like, params),
                                 tx.init(params), params)
    assert int(st.masks['fc1']['kernel'].sum()) == 128 - round(0.6 * 128)
    assert int(st.masks['fc2']['kernel'].sum()) == 32 - round(0.6 * 32)


def test_saliency_hand_computed():
  # loss = sum_i w_i * x_i  -> grad = x, score = |w * x| summed over batches
  params = {'w': jnp.array([[1., -2.], [3., 0.5]])}
  images = np.array([[[1., 1.], [1., 1.]], [[1., 0.], [0., 8.]]], np.float32)
  labels = np.zeros(2, np.int32)
  loss = lambda p, x, y: jnp.sum(p['w'] * x)
  score = pruning.saliency(loss, images, labels, batch_size=1, num_batches=2)
  s = jax.jit(lambda p: score.compute((), p, p, None))(params)
  np.testing.assert_allclose(s['w'], [[2., 2.], [3., 4.5]])
  # Defaults: one batch of 100 examples (here all ones, so grad = 100).
  ones = np.ones((150, 2, 2), np.float32)
  for score in (pruning.saliency(loss, ones, np.zeros(150, np.int32)),
                pruning.snip(loss, ones, np.zeros(150, np.int32))):
    s = jax.jit(lambda p: score.compute((), p, p, None))(params)
    np.testing.assert_allclose(s['w'], 100 * np.abs(params['w']))
  with pytest.raises(ValueError, match='asks for 200 examples'):
    pruning.saliency(loss, ones, np.zeros(150, np.int32), num_batches=2)


def test_movement_pruning_keeps_weights_moving_away_from_zero():
  params = {'w': jnp.array([[1., -1.], [0.5, 2.]])}
  specs = pruning.layer_specs(params, 0.5)
  tx = pruning.prune(specs, pruning.movement(), schedules.OneShot(1))
  grads = [{'w': jnp.array([[-0.5, -0.5], [1., 0.]])},
           {'w': jnp.array([[-1., 1.], [3., 0.1]])}]
  zeros = jax.tree.map(jnp.zeros_like, params)
  update = jax.jit(tx.update)
  state = tx.init(params)
  for g in grads:                    # weights held still: no updates
    _, state = update(zeros, state, params, grads=g)
  # Sanh et al. 2020: S = -sum_t g_t w_t = -([[-1.5, .5], [4, .1]] * w)
  #   = [[1.5, 0.5], [-2, -0.2]]: the two top rows are kept, though
  # magnitude would keep 2 and one of +-1.
  ps = pruning.find_state(state)
  np.testing.assert_allclose(ps.score_state['w'], [[1.5, 0.5], [-2., -0.2]])
  np.testing.assert_array_equal(ps.masks['w'], [[1, 1], [0, 0]])
  with pytest.raises(ValueError, match='raw gradients'):
    tx.update(zeros, tx.init(params), params)


def test_nm_masks_in_training():
  params = {'k': jax.random.normal(jax.random.key(1), (8, 3))}
  specs = pruning.layer_specs(params, 0.0, mask_type='nm', nm=(2, 4),
                              nm_axis=0)
  tx = optax.chain(optax.sgd(0.1, 0.9), pruning.prune(specs))
  p, _ = _run(tx, params, 3)[-1]
  nz = (np.asarray(p['k']) != 0).reshape(2, 4, 3).sum(axis=1)
  np.testing.assert_array_equal(nz, 2)


def test_projection_constraint_holds_every_step():
  params = _params()
  specs = pruning.layer_specs(params, 0.8)
  tx = optax.chain(optax.sgd(0.3, 0.9), pruning.projection(specs))
  hist = _run(tx, params, 8)
  masks_seen = []
  for p, state in hist:
    for name, n in (('fc1', 128), ('fc2', 32)):
      k = n - round(0.8 * n)
      assert np.count_nonzero(p[name]['kernel']) <= k
    masks_seen.append(
        np.asarray(pruning.find_state(state).masks['fc1']['kernel']))
    assert int(pruning.find_state(state).max_kept['fc1']['kernel']) == 128 - 102
  # IHT lets weights come back: the support changes over steps.
  assert any((a != b).any() for a, b in zip(masks_seen, masks_seen[1:]))


def test_rewind_snapshot_and_reset():
  params = _params()
  specs = pruning.layer_specs(params, 0.5)
  tx = optax.chain(optax.sgd(0.1), pruning.prune(
      specs, schedule=schedules.Never(), rewind_step=2))
  hist = _run(tx, params, 4)
  # params at the start of step 2 = after two updates
  chex.assert_trees_all_equal(pruning.find_state(hist[-1][1]).rewind,
                              hist[1][0])
  masks = jax.tree.map(lambda x: jnp.abs(x) > 0.5, params)
  reset = jax.tree.map(lambda x: x * 10.0, params)
  tx = optax.chain(optax.sgd(0.1), pruning.prune(
      specs, schedule=schedules.Never(), initial_masks=masks,
      reset_params=reset))
  p0, _ = _run(tx, params, 1)[0]
  chex.assert_trees_all_close(p0['fc1']['kernel'], jnp.where(
      masks['fc1']['kernel'], reset['fc1']['kernel'], 0.0))
  chex.assert_trees_all_close(p0['fc1']['bias'], reset['fc1']['bias'])


def test_update_without_params_raises():
  params = _params()
  tx = pruning.prune(pruning.layer_specs(params, 0.5))
  with pytest.raises(ValueError, match='needs the parameters'):
    tx.update(params, tx.init(params))


def test_specs_from_other_params_raise():
  tx = pruning.prune(pruning.layer_specs({'w': jnp.ones((4, 4))}, 0.5))
  with pytest.raises(ValueError, match='spec tree'):
    tx.init(_params())
  # 2:4 specs made for 8 rows do not fit a parameter of 6 rows.
  nm = pruning.layer_specs({'k': jnp.ones((8, 3))}, 0.0, mask_type='nm',
                           nm=(2, 4), nm_axis=0)
  with pytest.raises(ValueError, match='M=4 does not divide axis 0'):
    pruning.prune(nm).init({'k': jnp.ones((6, 3))})


def test_linen_variables_and_nnx_state():
  import flax.linen as nn
  from flax import nnx
  variables = nn.Dense(8).init(jax.random.key(0), jnp.ones((1, 16)))
  specs = pruning.layer_specs(variables, 0.5)
  tx = optax.chain(optax.adam(0.1), pruning.prune(specs))
  p, _ = _run(tx, variables, 2)[-1]
  assert np.count_nonzero(p['params']['kernel']) == 64
  assert np.count_nonzero(p['params']['bias']) == 8

  model = nnx.Linear(16, 8, rngs=nnx.Rngs(0))
  state = nnx.state(model, nnx.Param)
  specs = pruning.layer_specs(state, 0.75)
  tx = optax.chain(optax.sgd(0.1, 0.9), pruning.prune(specs))
  p, _ = _run(tx, state, 2)[-1]
  nnx.update(model, p)
  assert np.count_nonzero(model.kernel[...]) == 32
  assert np.count_nonzero(model.bias[...]) == 8   # the bias stays dense
  rows = pruning.sparsity_summary(p)['layers']
  assert any(r['nnz'] == 32 and r['size'] == 128 for r in rows.values())


def test_penalties_hand_computed():
  params = {'fc': {'kernel': jnp.array([[3., 0.], [4., -1.]]),
                   'bias': jnp.array([5., 5.])}}
  specs = pruning.layer_specs(params, 0.5)
  assert float(pruning.l1_penalty(specs, 0.1)(params)) == pytest.approx(0.8)
  # groups = output units (columns): ||(3, 4)|| = 5, ||(0, -1)|| = 1, each
  # weighted by sqrt(2)
  gl = pruning.group_lasso_penalty(specs, 1.0)
  assert float(jax.jit(gl)(params)) == pytest.approx(np.sqrt(2) * 6)
  assert np.all(np.isfinite(jax.grad(gl)({'fc': {
      'kernel': jnp.zeros((2, 2)), 'bias': jnp.zeros(2)}})['fc']['kernel']))
  # (3 in, 2 out): column norms |(3, 4, 0)| = 5 and |(0, -1, 0)| = 1, each
  # weighted by sqrt(3).
  tall = {'fc': {'kernel': jnp.array([[3., 0.], [4., -1.], [0., 0.]])}}
  gl = pruning.group_lasso_penalty(pruning.layer_specs(tall, 0.5), 1.0)
  assert float(gl(tall)) == pytest.approx(np.sqrt(3) * 6)


def test_summary_hand_computed():
  params = {'fc': {'kernel': jnp.array([[3., 0.], [0., -1.]]),
                   'bias': jnp.array([0., 5.])}}
  specs = pruning.layer_specs(params, 0.5)
  s = pruning.sparsity_summary(params, specs)
  assert s['layers']['fc/kernel'] == {'size': 4, 'nnz': 2, 'sparsity': 0.5,
                                      'pruned': True, 'target': 2}
  assert s['layers']['fc/bias']['pruned'] is False
  assert s['total'] == {'size': 6, 'nnz': 3, 'sparsity': 0.5}
  assert s['pruned_layers']['nnz'] == 2
  # No specs: nothing is pruned, an empty row of sparsity 0.
  assert pruning.sparsity_summary(params)['pruned_layers'] == {
      'size': 0, 'nnz': 0, 'sparsity': 0.0}
  assert 'fc/kernel' in pruning.format_summary(s)


def test_lottery_masks_hand_computed():
  params = {'fc1': {'kernel': jnp.array([[5., -1.], [0.5, 3.]]),
                    'bias': jnp.zeros(2)}}
  masks = {'fc1': {'kernel': np.array([[True, True], [True, False]]),
                   'bias': np.ones(2, bool)}}
  # keep 50% of 4 = 2 among the survivors (5, -1, 0.5): 5 and -1
  out = pruning.lottery_masks(params, masks, {'fc1/kernel': 0.5})
  np.testing.assert_array_equal(out['fc1']['kernel'], [[1, 1], [0, 0]])
  np.testing.assert_array_equal(out['fc1']['bias'], [1, 1])


def test_find_state_returns_the_first_prune_state():
  from jaxcompress.pruning.transform import find_state
  tx = pruning.prune({'w': pruning.LayerSpec(0.5, 1)})
  first = tx.init({'w': jnp.ones(2)})
  second = tx.init({'w': jnp.zeros(2)})
  assert find_state({'a': (first, second)}) is first
  assert find_state((optax.EmptyState(), second)) is second
  assert find_state({'no': jnp.ones(1)}) is None
