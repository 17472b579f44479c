"""Integer inference: packing, int8 x int8 -> int32, bit-exact logits."""

import flax.linen as nn
import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxcompress import models
from jaxcompress.quantization import apply as A
from jaxcompress.quantization import integer as I
from jaxcompress.quantization.quantizers import QuantSpec


def test_pack_int4_two_per_byte_hand_computed():
  packed = I.pack(np.array([-8, 7, 0, -1, 3], np.int8), 4)
  # codes + 8 = 0, 15, 8, 7, 11 -> low nibble first.
  np.testing.assert_array_equal(packed, [0xF0, 0x78, 0x0B])
  np.testing.assert_array_equal(I.unpack(jnp.asarray(packed), 4, (5,)),
                                [-8, 7, 0, -1, 3])
  assert I.pack(np.zeros(9, np.int8), 2).size == 3     # four per byte
  with pytest.raises(ValueError, match='outside the 4-bit range'):
    I.pack(np.array([8]), 4)


@settings(max_examples=40, deadline=None)
@given(bits=st.integers(2, 8), data=st.data())
def test_pack_unpack_roundtrip(bits, data):
  lo, hi = -2 ** (bits - 1), 2 ** (bits - 1) - 1
  codes = data.draw(hnp.arrays(np.int8, hnp.array_shapes(max_dims=3,
                                                         max_side=7),
                               elements=st.integers(lo, hi)))
  packed = I.pack(codes, bits)
  assert packed.nbytes == -(-codes.size * I.container_bits(bits) // 8)
  np.testing.assert_array_equal(
      jax.jit(I.unpack, static_argnums=(1, 2))(jnp.asarray(packed), bits,
                                              codes.shape), codes)


# (weights, inputs): symmetric and affine on both sides, 8 down to 2 bits.
CASES = {
    'lenet_300_100': [
        (QuantSpec(8, axis=-1), QuantSpec(8, symmetric=False)),
        (QuantSpec(2, symmetric=False, axis=-1), QuantSpec(6, symmetric=False)),
    ],
    'lenet5': [
        (QuantSpec(8, symmetric=False), QuantSpec(8, symmetric=False)),
        (QuantSpec(4, axis=-1), QuantSpec(8)),
    ],
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_integer_logits_equal_fake_quant_bit_exact(name):
  model = models.get_model(name)
  x = np.asarray(jax.random.normal(jax.random.key(1), (48, 28, 28, 1)))
  v = model.init(jax.random.key(0), x[:1])
  for wspec, aspec in CASES[name]:
    specs = A.weight_specs(v['params'], [('kernel', wspec)])
    layers = {n: A.LayerQuant(wspec, s) for n, s in
              A.act_specs(v['params'], [('kernel', aspec)]).items()}
    layers = A.calibrate_layers(model.apply, v, x[:32], layers)
    fake = jax.jit(A.fake_quant_apply(model.apply, layers))(v, x)
    im = I.convert(model, v, specs, layers)
    out = im(x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(fake))
    if wspec.bits == 8:   # and close to the float model
      ref = model.apply(v, x)
      assert np.abs(np.asarray(out) - ref).max() < 0.05 * np.abs(ref).max()


class _SameConvs(nn.Module):
  """SAME convolutions: even pads (3x3, stride 1), uneven (4x4, stride 2)."""

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.relu(nn.Conv(4, (3, 3), padding='SAME', name='conv1')(x))
    x = nn.relu(nn.Conv(6, (4, 4), strides=2, padding='SAME',
                        name='conv2')(x))
    return nn.Dense(10, name='fc')(x.reshape((x.shape[0], -1)))


@pytest.mark.parametrize('name', ['same_convs', 'resnet_small'])
def test_integer_same_padded_convs_with_affine_inputs_bit_exact(name):
  model = (_SameConvs() if name == 'same_convs'
           else models.get_model('resnet_small'))
  # Inputs on [-0.4, 2.8] (like normalized MNIST) and ReLU outputs: real zero
  # is not the middle code, so the padding code matters.
  x = np.asarray(jax.random.uniform(jax.random.key(1), (24, 12, 12, 1),
                                    minval=-0.4, maxval=2.8))
  v = model.init(jax.random.key(0), x[:1])
  for wspec, aspec in [
      (QuantSpec(8, axis=-1), QuantSpec(8, symmetric=False)),
      (QuantSpec(4, symmetric=False, axis=-1), QuantSpec(5, symmetric=False)),
  ]:
    specs = A.weight_specs(v['params'], [('kernel', wspec)])
    layers = {n: A.LayerQuant(wspec, s) for n, s in
              A.act_specs(v['params'], [('kernel', aspec)]).items()}
    layers = A.calibrate_layers(model.apply, v, x[:16], layers)
    convs = [n for n in layers if 'conv' in n]
    assert len(convs) >= 2
    for n in convs:   # affine inputs: zero point off the int8 origin
      assert layers[n].act_zero_point != 2 ** (aspec.bits - 1), n
    fake = jax.jit(A.fake_quant_apply(model.apply, layers))(v, x)
    out = I.convert(model, v, specs, layers)(x)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(fake))


def test_integer_model_computes_in_int8_and_int32():
  model = models.get_model('lenet5')
  x = np.ones((2, 28, 28, 1), np.float32)
  v = model.init(jax.random.key(0), x)
  specs = A.weight_specs(v['params'], [('kernel', QuantSpec(4, axis=-1))])
  layers = {n: A.LayerQuant(QuantSpec(4, axis=-1), QuantSpec(8)) for n in
            ('conv1', 'conv2', 'fc1', 'fc2')}
  layers = A.calibrate_layers(model.apply, v, x, layers)
  im = I.convert(model, v, specs, layers)
  assert im.qweights['params/fc1/kernel'].data.dtype == np.uint8
  assert im.qweights['params/fc1/kernel'].data.size == 800 * 500 // 2
  jaxpr = jax.make_jaxpr(im.apply_arrays)(im.arrays(), x)
  eqns = [e for e in jaxpr.jaxpr.eqns
          if e.primitive.name in ('dot_general', 'conv_general_dilated')]
  assert len(eqns) == 4
  for e in eqns:
    assert [a.aval.dtype for a in e.invars] == [jnp.int8, jnp.int8]
    assert e.outvars[0].aval.dtype == jnp.int32


def test_convert_errors():
  model = models.get_model('lenet_300_100')
  v = model.init(jax.random.key(0), jnp.ones((1, 28, 28, 1)))
  specs = A.weight_specs(v['params'], [('fc1/kernel', QuantSpec(8))])
  with pytest.raises(ValueError, match='no calibrated input range'):
    I.convert(model, v, specs, {'fc1': A.LayerQuant(QuantSpec(8),
                                                    QuantSpec(8))})
  lq = A.LayerQuant(None, QuantSpec(8), 0.1, 0.0)
  with pytest.raises(ValueError, match='kernel has no weight spec'):
    I.convert(model, v, specs, {'fc2': lq})
  lq = A.LayerQuant(QuantSpec(8, axis=0), QuantSpec(8), 0.1, 0.0)
  specs0 = A.weight_specs(v['params'], [('fc1/kernel', QuantSpec(8, axis=0))])
  with pytest.raises(ValueError, match='output axis'):
    I.convert(model, v, specs0, {'fc1': lq})


@pytest.mark.parametrize('bits', [2, 4, 8])
def test_pack_accepts_exactly_the_signed_code_range(bits):
  lo, hi = -2 ** (bits - 1), 2 ** (bits - 1) - 1
  codes = np.arange(lo, hi + 1, dtype=np.int8)
  np.testing.assert_array_equal(
      np.asarray(I.unpack(jnp.asarray(I.pack(codes, bits)), bits,
                          codes.shape)), codes)
  for bad in (lo - 1, hi + 1):
    with pytest.raises(ValueError, match=f'outside the {bits}-bit range'):
      I.pack(np.array([bad], np.int16), bits)
