"""Exact-count masks, N:M masks, spec trees and schedules on hand-made data."""

import hypothesis
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest
from conftest import tiny_config
from hypothesis import strategies as st

from jaxcompress import pruning
from jaxcompress.plugins import parse_config
from jaxcompress.pruning import masks as masks_lib
from jaxcompress.pruning import schedules


def _reference_topk(scores, k):
  """Keep k largest, ties to the lower flat index (numpy, by lexsort)."""
  flat = np.asarray(scores, np.float64).reshape(-1)
  flat = np.where(np.isnan(flat), -np.inf, flat)
  order = np.lexsort((np.arange(flat.size), -flat))
  keep = np.zeros(flat.size, bool)
  keep[order[:max(k, 0)]] = True
  return keep.reshape(np.shape(scores))


topk = jax.jit(pruning.topk_mask)


def test_topk_hand_computed_ties():
  s = jnp.array([[3., 1., 1.], [1., 0., -2.]])
  # Ties at 1.0 (flat indices 1, 2, 3) go to the lowest indices first.
  np.testing.assert_array_equal(topk(s, 2), [[1, 1, 0], [0, 0, 0]])
  np.testing.assert_array_equal(topk(s, 3), [[1, 1, 1], [0, 0, 0]])
  np.testing.assert_array_equal(topk(s, 4), [[1, 1, 1], [1, 0, 0]])
  np.testing.assert_array_equal(topk(s, 0), np.zeros((2, 3)))
  np.testing.assert_array_equal(topk(s, 6), np.ones((2, 3)))


def test_topk_negative_and_inf_scores():
  s = jnp.array([-jnp.inf, -1., -0., 0., jnp.inf, jnp.nan])
  # order: inf(4) > 0(2), 0(3) tie (-0 == 0) > -1(1) > -inf(0), nan(5) as -inf
  np.testing.assert_array_equal(topk(s, 2), [0, 0, 1, 0, 1, 0])
  np.testing.assert_array_equal(topk(s, 5), [1, 1, 1, 1, 1, 0])


def test_global_pool_ties_earlier_array_first():
  a, b = jnp.array([1., 5.]), jnp.array([[1., 1.], [2., 0.]])
  keys = [masks_lib.order_keys(a), masks_lib.order_keys(b)]
  ma, mb = jax.jit(masks_lib.topk_masks)(keys, 3)
  # 5 and 2 are kept, then one of the three 1.0s: the one in the first array.
  np.testing.assert_array_equal(ma, [1, 1])
  np.testing.assert_array_equal(mb, [[0, 0], [1, 0]])


def test_nm_mask_hand_computed():
  s = jnp.array([[4., 1.], [3., 1.], [1., 2.], [2., 2.]])  # (in=4, out=2)
  m = jax.jit(pruning.nm_mask, static_argnums=(1, 2, 3))(s, 2, 4, 0)
  # column 0: 4,3 kept; column 1: 1,1,2,2 -> the two 2s.
  np.testing.assert_array_equal(m, [[1, 0], [1, 0], [0, 1], [0, 1]])
  m = pruning.nm_mask(jnp.array([[1., 1., 1., 1.]]), 1, 2, -1)
  np.testing.assert_array_equal(m, [[1, 0, 1, 0]])  # ties to lower index


def test_nm_bad_m_raises():
  with pytest.raises(ValueError, match='does not divide'):
    pruning.nm_mask(jnp.ones((6, 2)), 2, 4, 0)


@hypothesis.settings(max_examples=25, deadline=None)
@hypothesis.given(
    hnp.arrays(np.float32, hnp.array_shapes(min_dims=1, max_dims=3,
                                             max_side=7),
               elements=st.sampled_from([-2., -1., 0., 0.5, 1., 3.])),
    st.floats(0, 1))
def test_exact_count_property(scores, frac):
  k = int(round(frac * scores.size))
  m = np.asarray(topk(scores, k))
  assert m.sum() == k
  np.testing.assert_array_equal(m, _reference_topk(scores, k))


@hypothesis.settings(max_examples=15, deadline=None)
@hypothesis.given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 6)),
               elements=st.floats(-4, 4, width=32)),
    st.floats(0, 0.99))
def test_masking_is_idempotent(w, sparsity):
  params = {'w': jnp.asarray(w)}
  specs = pruning.layer_specs(params, sparsity)
  masks = jax.tree.map(lambda x: jnp.ones(x.shape, bool), params)
  score = pruning.magnitude()
  compute = jax.jit(lambda p, m: pruning.compute_masks(
      specs, score.compute((), p, p, None), p, m, 1.0))
  masks1 = compute(params, masks)
  w1 = pruning.apply_masks(params, masks1)
  # Masking again changes nothing, and re-pruning the pruned weights to the
  # same sparsity gives the same weights.
  np.testing.assert_array_equal(pruning.apply_masks(w1, masks1)['w'],
                                w1['w'])
  masks2 = compute(w1, masks1)
  np.testing.assert_array_equal(pruning.apply_masks(w1, masks2)['w'],
                                w1['w'])
  assert int(masks1['w'].sum()) == w.size - round(sparsity * w.size)


PARAMS = {'fc1': {'kernel': jnp.zeros((8, 4)), 'bias': jnp.zeros(4)},
          'bn': {'scale': jnp.zeros(4)},
          'fc2': {'kernel': jnp.zeros((4, 2)), 'bias': jnp.zeros(2)}}


def test_specs_uniform_biases_dense_and_rules():
  specs = pruning.layer_specs(PARAMS, 0.5, rules=[('fc2', 0.25)])
  assert specs['fc1']['bias'] is None and specs['bn']['scale'] is None
  assert specs['fc1']['kernel'].num_pruned == 16
  assert specs['fc2']['kernel'].num_pruned == 2
  specs = pruning.layer_specs(PARAMS, 0.5, rules=[('fc2/kernel', None),
                                                  ('fc1/bias', 0.5)])
  assert specs['fc2']['kernel'] is None
  assert specs['fc1']['bias'].num_pruned == 2


def test_rule_layers_keep_their_own_sparsity_outside_the_global_pool():
  specs = pruning.layer_specs(PARAMS, 0.5, 'global', rules=[('fc2', 0.25)])
  fc1, fc2 = specs['fc1']['kernel'], specs['fc2']['kernel']
  assert fc1.pool and fc1.num_pruned == 16    # the pool is fc1 alone
  assert not fc2.pool and fc2.num_pruned == 2


def test_specs_global_and_erk():
  specs = pruning.layer_specs(PARAMS, 0.5, 'global')
  # pool of 32 + 8 weights, 20 removed in total
  assert specs['fc1']['kernel'].pool and specs['fc1']['kernel'].num_pruned == 20
  # ERK: density = eps * (in + out) / (in * out): fc1 12/32, fc2 6/8;
  # nonzeros eps * (12 + 6) = total budget.
  specs = pruning.layer_specs(PARAMS, 0.5, 'erk')   # budget 20: eps = 20/18
  assert 1 - specs['fc1']['kernel'].sparsity == pytest.approx(20 / 18 * 0.375)
  assert 1 - specs['fc2']['kernel'].sparsity == pytest.approx(20 / 18 * 0.75)
  # budget 32: eps = 32/18 would give fc2 density 4/3 > 1 -> dense, and fc1
  # gets the remaining 32 - 8 = 24 of its 32 weights.
  specs = pruning.layer_specs(PARAMS, 0.2, 'erk')
  assert specs['fc2']['kernel'].sparsity == 0.0
  assert specs['fc1']['kernel'].num_pruned == 8


@pytest.mark.parametrize('bad', [1.0, -0.1, 1.5, float('nan')])
def test_bad_sparsity_raises(bad):
  with pytest.raises(ValueError, match=r'\[0, 1\)'):
    pruning.layer_specs(PARAMS, bad)
  with pytest.raises(ValueError, match=r'\[0, 1\)'):
    pruning.layer_specs(PARAMS, 0.5, rules=[('fc1', bad)])


def test_negative_std_quality_raises():
  with pytest.raises(ValueError, match='quality must be >= 0'):
    pruning.layer_specs(PARAMS, -0.5, 'std')
  assert pruning.layer_specs(PARAMS, 0.0, 'std')['fc1']['kernel'].quality == 0


def test_unused_rule_raises():
  with pytest.raises(ValueError, match='match no parameter'):
    pruning.layer_specs(PARAMS, 0.5, rules=[('conv9', 0.5)])


def test_nm_specs_sparsity_and_fit():
  with pytest.raises(ValueError, match='does not divide'):
    pruning.layer_specs({'k': jnp.zeros((6, 4))}, 0.0, mask_type='nm',
                        nm=(2, 4), nm_axis=0)
  specs = pruning.layer_specs(PARAMS, 0.0, mask_type='nm', nm=(1, 2),
                              nm_axis=0)
  assert specs['fc1']['kernel'].nm == (1, 2, 0)
  # 1 of every 2 kept: sparsity 1/2, 16 of fc1's 32 weights removed.
  assert specs['fc1']['kernel'].sparsity == 0.5
  assert specs['fc1']['kernel'].num_pruned == 16
  specs = pruning.layer_specs(PARAMS, 0.0, mask_type='nm', nm=(1, 4),
                              nm_axis=0)
  assert specs['fc1']['kernel'].num_pruned == 24


def test_schedules_hand_computed():
  poly = schedules.Polynomial(begin=10, end=30, every=10, power=3)
  f = jax.jit(poly)
  for t, upd, frac in [(0, False, 0.0), (10, True, 0.0),
                       (15, False, 1 - 0.75 ** 3),
                       (20, True, 0.875), (30, True, 1.0), (40, False, 1.0)]:
    u, fr = f(jnp.int32(t))
    assert bool(u) == upd and float(fr) == pytest.approx(frac), t
  it = schedules.Iterative([5, 9], [0.5, 1.0])
  assert [bool(it(jnp.int32(t))[0]) for t in (4, 5, 9)] == [False, True, True]
  assert float(it(jnp.int32(5))[1]) == 0.5


def _zhu_gupta(t, t0, dt, n, s_i, s_f):
  """Zhu & Gupta 2017, eq. 1: s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3
  for t0 <= t <= t0 + n dt (written out here, independently of the library)."""
  return s_f + (s_i - s_f) * (1.0 - (t - t0) / (n * dt)) ** 3


@pytest.mark.parametrize('s_i', [0.0, 0.2])
def test_default_polynomial_schedule_is_zhu_gupta_cubic(s_i):
  s_f, t0, dt, n = 0.8, 10, 5, 4
  # No power given: the default must be Zhu & Gupta's cubic.
  poly = schedules.Polynomial(begin=t0, end=t0 + n * dt, every=dt,
                              initial_fraction=s_i / s_f)
  f = jax.jit(poly)
  for k in range(n + 1):
    t = t0 + k * dt
    update, frac = f(jnp.int32(t))
    assert bool(update), t
    assert float(frac) * s_f == pytest.approx(
        _zhu_gupta(t, t0, dt, n, s_i, s_f), abs=1e-6), t
  # By hand at the first step after t0 (s_i = 0): 0.8 (1 - 0.75^3) = 0.4625;
  # a square (power 2) would give 0.35.
  if s_i == 0.0:
    assert float(f(jnp.int32(t0 + dt))[1]) * s_f == pytest.approx(0.4625)


def test_default_polynomial_schedule_through_the_config_section():
  # A pruning section that names no power: the section's default.
  c = tiny_config()
  c.pruning = ml_collections.ConfigDict(dict(
      sparsity=0.9, schedule='polynomial', begin=0, end=40, every=10))
  section = parse_config(c).sections['pruning']
  f = jax.jit(section.make_schedule(1))
  for t in (0, 10, 20, 30, 40):
    assert float(f(jnp.int32(t))[1]) * 0.9 == pytest.approx(
        _zhu_gupta(t, 0, 10, 4, 0.0, 0.9), abs=1e-6), t


def test_default_polynomial_schedule_prunes_zhu_gupta_counts():
  w = jax.random.normal(jax.random.key(0), (50, 20))   # 1,000 weights
  params = {'w': w}
  specs = pruning.layer_specs(params, 0.75)
  tx = pruning.prune(specs, schedule=schedules.Polynomial(begin=2, end=10,
                                                          every=2))
  state = tx.init(params)
  step = jax.jit(tx.update)
  pruned = []
  for _ in range(12):
    u, state = step(jax.tree.map(jnp.zeros_like, params), state, params)
    params = optax.apply_updates(params, u)
    pruned.append(int(np.sum(np.asarray(params['w']) == 0)))
  # round(1000 s_t) at t = 2, 4, ..., 10 from Zhu & Gupta's formula:
  # 0, 433.6, 656.25, 738.3, 750; masks hold between updates.
  expected = [round(1000 * _zhu_gupta(t, 2, 2, 4, 0.0, 0.75))
              for t in (2, 4, 6, 8, 10)]
  assert expected == [0, 434, 656, 738, 750]
  assert pruned == [0, 0, 0, 0, 434, 434, 656, 656, 738, 738, 750, 750]


def test_last_update_of_each_schedule():
  # The step after which masks reach their full target (None: never).
  assert schedules.OneShot(3).last_update == 3
  assert schedules.Iterative([5, 9, 20]).last_update == 20
  assert schedules.Polynomial(begin=10, end=30).last_update == 30
  assert schedules.EveryStep().last_update == 0
  assert schedules.Never().last_update is None


def test_schedule_that_ends_before_it_begins_raises():
  for end in (50, 100):
    with pytest.raises(ValueError, match='before it begins'):
      schedules.Polynomial(begin=100, end=end)
  with pytest.raises(ValueError, match='increasing'):
    schedules.Iterative([10, 5])


def test_as_score_wraps_plain_functions_and_refuses_other_values():
  from jaxcompress.pruning import scores
  s = scores.as_score(lambda params, new, key: jax.tree.map(jnp.abs, new))
  assert isinstance(s, scores.Score)
  got = s.compute(s.init({'w': jnp.ones(2)}), None,
                  {'w': jnp.array([-3.0, 2.0])}, None)
  np.testing.assert_array_equal(got['w'], [3.0, 2.0])
  with pytest.raises(ValueError, match='must be a Score or a function'):
    scores.as_score(3)


@pytest.mark.parametrize('axis', [0, -4, 2, -1])
def test_nm_mask_of_a_conv_kernel_along_any_axis(axis):
  # A (3, 3, 8, 4) kernel with distinct scores: along `axis` every run of 4
  # consecutive entries keeps its 2 largest (numpy, group by group).
  shape = (4, 3, 8, 4) if axis in (0, -4) else (3, 3, 8, 4)
  s = np.random.default_rng(0).permutation(np.prod(shape)).reshape(
      shape).astype(np.float32)
  got = np.asarray(pruning.nm_mask(jnp.asarray(s), 2, 4, axis))
  moved = np.moveaxis(s, axis, -1)
  groups = moved.reshape(-1, 4)
  want = np.zeros_like(groups, bool)
  for g, row in enumerate(groups):
    want[g, np.argsort(row)[-2:]] = True
  want = np.moveaxis(want.reshape(moved.shape), -1, axis)
  np.testing.assert_array_equal(got, want)


def test_schedules_are_frozen_hashable_values():
  # Schedules are static arguments of jitted functions: hashable, immutable.
  import dataclasses
  for sched in (schedules.EveryStep(), schedules.OneShot(3)):
    assert hash(sched) == hash(type(sched)(*dataclasses.astuple(sched)))
    with pytest.raises(dataclasses.FrozenInstanceError):
      sched.x = 1
