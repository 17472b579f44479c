"""Calibration methods: hand-computed ranges, MSE search, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress.quantization import calibration
from jaxcompress.quantization import quantizers as qz
from jaxcompress.quantization.quantizers import QuantSpec


def test_minmax_over_batches():
  spec = QuantSpec(bits=8, symmetric=False)
  scale, zp = calibration.calibrate(
      [jnp.array([0.0, 1.0]), jnp.array([-0.5, 2.0])], spec, 'minmax')
  np.testing.assert_allclose(scale, 2.5 / 255, rtol=1e-6)
  np.testing.assert_array_equal(zp, [51.0])   # round(0.5 / (2.5 / 255))


def test_moving_average_hand_computed():
  spec = QuantSpec(bits=8)
  state = calibration.moving_average_update(None, jnp.array([-1.0, 2.0]), spec)
  state = calibration.moving_average_update(
      state, jnp.array([-3.0, 4.0]), spec, momentum=0.5)
  np.testing.assert_allclose([state.lo.item(), state.hi.item()], [-2.0, 3.0])
  assert int(state.count) == 2
  scale, _ = calibration.calibrate(
      [jnp.array([-1.0, 2.0]), jnp.array([-3.0, 4.0])], spec,
      'moving_average', momentum=0.5)
  np.testing.assert_allclose(scale, 3.0 / 127, rtol=1e-6)


def test_percentile_clips_outlier():
  x = jnp.concatenate([jnp.linspace(-1, 1, 1001), jnp.array([100.0])])
  spec = QuantSpec(bits=8)
  lo, hi = calibration.compute_range(x, spec, 'percentile', percentile=99.0)
  assert hi.item() < 1.0 and lo.item() > -1.0
  lo_mm, hi_mm = calibration.compute_range(x, spec, 'minmax')
  assert hi_mm.item() == 100.0


def test_percentile_range_is_50_exclusive_to_100_inclusive():
  x = jnp.linspace(-1, 3, 101)
  spec = QuantSpec(bits=8)
  lo, hi = calibration.compute_range(x, spec, 'percentile', percentile=100.0)
  assert (lo.item(), hi.item()) == (-1.0, 3.0)     # 100: the min-max range
  for bad in (50.0, 49.0, 100.5):
    with pytest.raises(ValueError, match=r'percentile must be in \(50, 100\]'):
      calibration.compute_range(x, spec, 'percentile', percentile=bad)


def test_percentile_per_channel():
  x = jnp.stack([jnp.linspace(0, 1, 101), jnp.linspace(0, 10, 101)], axis=1)
  lo, hi = calibration.compute_range(x, QuantSpec(8, axis=1), 'percentile',
                                     percentile=90.0)
  np.testing.assert_allclose(hi[0], [0.9, 9.0], rtol=1e-5)
  np.testing.assert_allclose(lo[0], [0.1, 1.0], rtol=1e-5)


def test_mse_beats_minmax_with_outliers():
  key = jax.random.key(0)
  x = jnp.concatenate([jax.random.normal(key, (4000,)), jnp.array([40.0])])
  spec = QuantSpec(bits=4)

  def err(lo, hi):
    s, z = qz.scale_zero_point(lo, hi, spec)
    return float(jnp.sum((qz.fake_quant(x, s, z, spec) - x) ** 2))

  mse_lo, mse_hi = jax.jit(
      lambda x: calibration.compute_range(x, spec, 'mse'))(x)
  assert mse_hi.item() < 40.0
  assert err(mse_lo, mse_hi) < 0.5 * err(*calibration.compute_range(x, spec))


@pytest.mark.parametrize('axis', [1, 0])
def test_mse_never_worse_than_minmax_per_channel(axis):
  x = jax.random.laplace(jax.random.key(1), (50, 3)) * jnp.array([1, 5, .1])
  if axis == 0:
    x = x.T
  spec = QuantSpec(bits=3, symmetric=False, axis=axis)
  lo, hi = calibration.compute_range(x, spec, 'mse', num_candidates=40)
  assert lo.shape == hi.shape == ((1, 3) if axis == 1 else (3, 1))

  def err(lo, hi):
    s, z = qz.scale_zero_point(lo, hi, spec)
    # Squared error per channel (summed over the other axis).
    return np.asarray(jnp.sum((qz.fake_quant(x, s, z, spec) - x) ** 2,
                              1 - axis))

  assert (err(lo, hi) <= err(*qz.tensor_range(x, spec)) + 1e-6).all()
  assert (hi < qz.tensor_range(x, spec)[1]).any()   # some range was clipped


def test_empty_set():
  spec = QuantSpec(bits=8)
  with pytest.raises(ValueError, match='empty'):
    calibration.calibrate([], spec)
  with pytest.raises(ValueError, match='empty'):
    calibration.calibrate([jnp.zeros((0, 3))], spec)
  with pytest.raises(ValueError, match='empty'):
    calibration.compute_range(jnp.zeros((0,)), spec)


def test_bad_method_and_axis():
  with pytest.raises(ValueError, match='Unknown calibration method'):
    calibration.calibrate([jnp.ones(3)], QuantSpec(8), 'kl')
  with pytest.raises(ValueError, match='out of range'):
    calibration.calibrate([jnp.ones((2, 3))], QuantSpec(8, axis=5))


def test_nan_data():
  with pytest.raises(ValueError, match='NaN or infinite'):
    calibration.calibrate([jnp.array([0.0, jnp.nan])], QuantSpec(8),
                          'percentile')


def test_moving_average_momentum_one_keeps_only_the_newest_batch():
  spec = QuantSpec(bits=8, symmetric=False)
  s = calibration.moving_average_update(None, jnp.array([-1.0, 1.0]), spec,
                                        momentum=1.0)
  s = calibration.moving_average_update(s, jnp.array([-4.0, 2.0]), spec,
                                        momentum=1.0)
  np.testing.assert_allclose(np.ravel([s.lo, s.hi]), [-4.0, 2.0])
  with pytest.raises(ValueError, match=r'momentum must be in \(0, 1\]'):
    calibration.moving_average_update(None, jnp.ones(2), spec, momentum=1.5)
