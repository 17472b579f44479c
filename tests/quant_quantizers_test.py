"""Quantizers: hand-computed grids, STE gradients, LSQ, properties, errors."""

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcompress.quantization import calibration
from jaxcompress.quantization import quantizers as qz
from jaxcompress.quantization.quantizers import QuantSpec


def test_grid_limits():
  assert (QuantSpec(8).qmin, QuantSpec(8).qmax) == (-127, 127)
  assert (QuantSpec(4).qmin, QuantSpec(4).qmax) == (-7, 7)
  assert (QuantSpec(2).qmin, QuantSpec(2).qmax) == (-1, 1)
  assert (QuantSpec(8, symmetric=False).qmin,
          QuantSpec(8, symmetric=False).qmax) == (0, 255)
  assert QuantSpec(2, symmetric=False).qmax == 3


def test_symmetric_hand_computed():
  spec = QuantSpec(bits=4)           # q in -7..7
  x = jnp.array([-1.4, -0.25, 0.0, 0.35, 0.7, 2.0])
  scale, zp = qz.scale_zero_point(jnp.min(x), jnp.max(x), spec)
  np.testing.assert_allclose(scale, 2.0 / 7, rtol=1e-6)
  assert float(zp) == 0.0
  q = jax.jit(lambda x: qz.quantize(x, scale, zp, spec))(x)
  # x/s = -4.9, -0.875, 0, 1.225, 2.45, 7
  np.testing.assert_array_equal(q, [-5, -1, 0, 1, 2, 7])


def test_affine_hand_computed():
  spec = QuantSpec(bits=2, symmetric=False)   # q in 0..3
  scale, zp = qz.scale_zero_point(jnp.float32(-1.0), jnp.float32(2.0), spec)
  np.testing.assert_allclose(scale, 1.0)
  assert float(zp) == 1.0
  x = jnp.array([-3.0, -1.0, -0.4, 0.0, 0.6, 2.0, 5.0])
  fq = jax.jit(lambda x: qz.fake_quant(x, scale, zp, spec))(x)
  np.testing.assert_allclose(fq, [-1, -1, 0, 0, 1, 2, 2])


def test_affine_range_extended_to_zero():
  spec = QuantSpec(bits=8, symmetric=False)
  scale, zp = qz.scale_zero_point(jnp.float32(1.0), jnp.float32(3.0), spec)
  np.testing.assert_allclose(scale, 3.0 / 255, rtol=1e-6)
  assert float(zp) == 0.0


def test_per_channel_any_axis():
  x = jnp.array([[1.0, -4.0, 0.5], [-2.0, 2.0, 0.25]])   # (2, 3)
  spec0 = QuantSpec(bits=8, axis=0)
  lo, hi = qz.tensor_range(x, spec0)
  assert lo.shape == (2, 1)
  s0, _ = qz.scale_zero_point(lo, hi, spec0)
  np.testing.assert_allclose(s0[:, 0], [4 / 127, 2 / 127], rtol=1e-6)
  spec1 = QuantSpec(bits=8, axis=-1)
  s1, _ = qz.scale_zero_point(*qz.tensor_range(x, spec1), spec1)
  np.testing.assert_allclose(s1[0], [2 / 127, 4 / 127, 0.5 / 127], rtol=1e-6)
  out = jax.jit(lambda x: qz.fake_quant_tensor(x, spec1))(x)
  # Each column's max-abs entry is exactly on the grid.
  np.testing.assert_allclose(out[1, 0], -2.0, rtol=1e-6)
  np.testing.assert_allclose(out[0, 1], -4.0, rtol=1e-6)


def test_ste_gradient_inside_one_outside_zero():
  spec = QuantSpec(bits=4)
  f = lambda x: jnp.sum(qz.fake_quant(x, 0.1, 0.0, spec) * jnp.arange(4.0))
  g = jax.jit(jax.grad(f))(jnp.array([0.03, -0.5, 0.9, -2.0]))
  # 0.9 / 0.1 = 9 > 7.5 and -20 < -7.5 are clipped.
  np.testing.assert_allclose(g, [0.0, 1.0, 0.0, 0.0])


def test_quantize_ste_codes_gradient_is_inverse_scale():
  spec = QuantSpec(bits=8, symmetric=False)
  g = jax.grad(lambda x: jnp.sum(qz.quantize_ste(x, 0.5, 3.0, spec)))(
      jnp.array([0.2, 1.0, 500.0]))
  np.testing.assert_allclose(g, [2.0, 2.0, 0.0])


def test_stochastic_rounding_unbiased_and_on_grid():
  spec = QuantSpec(bits=8, rounding='stochastic')
  x = jnp.full((20000,), 0.3)
  out = jax.jit(lambda x, k: qz.fake_quant(x, 1.0, 0.0, spec, k))(
      x, jax.random.key(0))
  assert set(np.unique(np.asarray(out))) <= {0.0, 1.0}
  np.testing.assert_allclose(np.mean(out), 0.3, atol=0.02)
  with pytest.raises(ValueError, match='PRNG key'):
    qz.fake_quant(x, 1.0, 0.0, spec)


def test_lsq_gradients_hand_computed():
  spec = QuantSpec(bits=2)   # q in -1..1, qmax 1
  x = jnp.array([0.3, -0.1, 5.0, -5.0])
  step = jnp.float32(1.0)
  gx, gs = jax.grad(lambda x, s: jnp.sum(qz.lsq_fake_quant(x, s, spec)),
                    argnums=(0, 1))(x, step)
  np.testing.assert_allclose(gx, [1, 1, 0, 0])
  # round(v) - v inside: -0.3, 0.1; qmax, qmin outside: 1, -1; scale 1/sqrt(4).
  np.testing.assert_allclose(gs, (-0.3 + 0.1 + 1 - 1) / 2, rtol=1e-5)


def test_lsq_learns_step_reducing_error():
  spec = QuantSpec(bits=3, axis=1)
  w = jax.random.normal(jax.random.key(1), (64, 4)) * jnp.array([.1, 1, 3, 9])
  step = qz.lsq_init_step(w, spec) * 3.0    # deliberately poor start
  assert step.shape == (1, 4)
  loss = lambda s: jnp.mean((qz.lsq_fake_quant(w, s, spec) - w) ** 2)
  grad = jax.jit(jax.grad(loss))
  before = loss(step)
  for _ in range(200):
    step = step - 20.0 * grad(step) * step   # multiplicative-ish update
  assert loss(step) < 0.5 * before
  with pytest.raises(ValueError, match='symmetric'):
    qz.lsq_fake_quant(w, step, QuantSpec(3, symmetric=False))


# Bad input.

@pytest.mark.parametrize('bits', [0, 1, 9, 16, 2.5, True])
def test_bits_out_of_range(bits):
  with pytest.raises(ValueError, match='bits'):
    QuantSpec(bits=bits)


def test_axis_out_of_range():
  spec = QuantSpec(bits=8, axis=2)
  with pytest.raises(ValueError, match=r'axis 2 is out of range for a '
                     r'tensor of rank 2 \(valid: -2\.\.1\)'):
    qz.tensor_range(jnp.ones((3, 4)), spec)
  with pytest.raises(ValueError, match='out of range'):
    qz.fake_quant_tensor(jnp.ones((3, 4)), QuantSpec(bits=8, axis=-3))


def test_nan_and_inf_range():
  spec = QuantSpec(bits=8)
  with pytest.raises(ValueError, match='NaN or infinite'):
    qz.scale_zero_point(jnp.float32(0.0), jnp.float32(jnp.nan), spec)
  with pytest.raises(ValueError, match='NaN or infinite'):
    qz.scale_zero_point(jnp.float32(-jnp.inf), jnp.float32(1.0), spec)
  with pytest.raises(ValueError, match='NaN or infinite'):
    calibration.calibrate([jnp.array([1.0, jnp.inf])], spec)


def test_bad_rounding():
  with pytest.raises(ValueError, match='rounding'):
    QuantSpec(8, rounding='up')


# Properties.

# Fixed shapes keep compilations to one per spec (14 specs); values vary.
_arrays = hnp.arrays(np.float32, (4, 6), elements=st.floats(-100, 100,
                                                            width=32))
_specs = st.builds(QuantSpec, bits=st.integers(2, 8), symmetric=st.booleans())


@jax.jit
def _minmax(x):
  return jnp.min(x), jnp.max(x)


def _grid(x, spec):
  return jax.jit(qz.scale_zero_point, static_argnums=2)(*_minmax(x), spec)


_fq = jax.jit(qz.fake_quant, static_argnums=3)


@settings(max_examples=40, deadline=None)
@given(x=_arrays, spec=_specs)
def test_error_at_most_half_step_inside_range(x, spec):
  scale, zp = _grid(x, spec)
  out = np.asarray(_fq(jnp.asarray(x), scale, zp, spec))
  lo = float(scale) * (spec.qmin - float(zp))
  hi = float(scale) * (spec.qmax - float(zp))
  inside = (x >= lo) & (x <= hi)
  bound = float(scale) / 2 * (1 + 1e-5) + 1e-6
  assert (np.abs(out - x)[inside] <= bound).all()
  # The affine zero point is rounded, shifting the grid by at most half a
  # step, so every x in the calibrated [min, max] is within half a step too.
  assert (np.abs(out - x) <= bound).all()


@settings(max_examples=40, deadline=None)
@given(x=_arrays, spec=_specs)
def test_fake_quant_is_idempotent(x, spec):
  scale, zp = _grid(x, spec)
  once = _fq(jnp.asarray(x), scale, zp, spec)
  twice = _fq(once, scale, zp, spec)
  np.testing.assert_array_equal(once, twice)


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(-50, 0), hi=st.floats(0, 50), bits=st.integers(2, 8),
       axis_data=_arrays)
def test_zero_exactly_representable_affine(lo, hi, bits, axis_data):
  spec = QuantSpec(bits=bits, symmetric=False)
  scale, zp = jax.jit(qz.scale_zero_point, static_argnums=2)(
      jnp.float32(lo), jnp.float32(hi), spec)
  assert float(_fq(jnp.float32(0.0), scale, zp, spec)) == 0.0
  # Per-channel on real data: zeros stay exactly zero.
  x = np.where(np.abs(axis_data) < 30, 0.0, axis_data).astype(np.float32)
  out = jax.jit(qz.fake_quant_tensor, static_argnums=1)(
      jnp.asarray(x), QuantSpec(bits, False, axis=0))
  assert (np.asarray(out)[x == 0] == 0).all()
