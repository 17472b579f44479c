"""The quantized file: sizes against float32, exact round trip."""

import os

import flax.linen as nn
import jax
import numpy as np
import pytest

from jaxcompress import models
from jaxcompress.quantization import apply as A
from jaxcompress.quantization import fold_bn, storage
from jaxcompress.quantization import integer as I
from jaxcompress.quantization.quantizers import QuantSpec


@pytest.mark.parametrize('bits,limit', [(8, 0.26), (4, 0.14)])
def test_sizes_and_exact_roundtrip(tmp_path, bits, limit):
  model = models.get_model('mlp_128')   # the smallest zoo model: worst ratio
  x = np.asarray(jax.random.normal(jax.random.key(1), (16, 28, 28, 1)))
  v = model.init(jax.random.key(0), x[:1])
  wspec = QuantSpec(bits, axis=-1)
  specs = A.weight_specs(v['params'], [('kernel', wspec)])
  layers = {n: A.LayerQuant(wspec, QuantSpec(8, symmetric=False))
            for n in ('fc1', 'fc2')}
  layers = A.calibrate_layers(model.apply, v, x, layers)
  im = I.convert(model, v, specs, layers)
  qbytes = storage.save(im, str(tmp_path / 'q.jxq'), 'mlp_128')
  fbytes = storage.save_float(v, str(tmp_path / 'f.jxq'), 'mlp_128')
  assert qbytes == os.path.getsize(tmp_path / 'q.jxq')
  assert fbytes > 101_770 * 4
  assert qbytes / fbytes <= limit
  loaded = storage.load(str(tmp_path / 'q.jxq'))
  np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(im(x)))
  back = storage.load_float(str(tmp_path / 'f.jxq'))
  np.testing.assert_array_equal(back['params']['fc1']['kernel'],
                                v['params']['fc1']['kernel'])


def test_weight_only_file_matches_fake_quant(tmp_path):
  model = models.get_model('lenet5')
  x = np.asarray(jax.random.normal(jax.random.key(1), (8, 28, 28, 1)))
  v = model.init(jax.random.key(0), x[:1])
  specs = A.weight_specs(v['params'], [('kernel', QuantSpec(3, False,
                                                            axis=-1))])
  im = I.convert(model, v, specs)
  storage.save(im, str(tmp_path / 'q.jxq'), 'lenet5')
  loaded = storage.load(str(tmp_path / 'q.jxq'))
  fake = jax.jit(lambda v, x: model.apply(
      {'params': A.quantize_params(v['params'], specs)}, x))(v, x)
  np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(fake))


def test_bad_file(tmp_path):
  path = tmp_path / 'x.jxq'
  path.write_bytes(b'not a model')
  with pytest.raises(ValueError, match='not a jaxcompress'):
    storage.load(str(path))


def test_fold_batch_norm_matches_inference_mode():
  for name in ('lenet_300_100', 'lenet5'):
    model = models.get_model(name, batch_norm=True)
    x = np.asarray(jax.random.normal(jax.random.key(1), (4, 28, 28, 1)))
    v = jax.tree.map(np.asarray, model.init(jax.random.key(0), x[:1]))
    rng = np.random.default_rng(0)
    v['batch_stats'] = jax.tree.map(
        lambda a: rng.uniform(0.5, 2.0, a.shape).astype(np.float32),
        v['batch_stats'])
    v['params'] = {k: (jax.tree.map(lambda a: a + 0.3, p)
                       if k.startswith('bn') else p)
                   for k, p in v['params'].items()}
    folded_model, folded = fold_bn.fold_batch_norm(model, v, x)
    assert 'batch_stats' not in folded and 'bn1' not in folded['params']
    assert folded_model.batch_norm is False
    np.testing.assert_allclose(folded_model.apply(folded, x),
                               model.apply(v, x), rtol=1e-4, atol=1e-5)
  pairs = fold_bn.find_pairs(model, v, x)
  assert pairs == {'bn1': ('conv1', 1e-5), 'bn2': ('conv2', 1e-5),
                   'bn3': ('fc1', 1e-5)}


def test_fold_refuses_batch_norm_without_a_switch():
  model = models.get_model('resnet_small')   # no `batch_norm` attribute
  x = np.zeros((1, 28, 28, 1), np.float32)
  v = model.init(jax.random.key(0), x)
  with pytest.raises(ValueError, match='no `batch_norm` switch'):
    fold_bn.fold_batch_norm(model, v, x)
  # Without batch statistics there is nothing to fold.
  plain = models.get_model('mlp_64')
  pv = plain.init(jax.random.key(0), x)
  folded_model, folded = fold_bn.fold_batch_norm(plain, pv, x)
  assert folded_model is plain and folded is pv


class _Block(nn.Module):
  batch_norm: bool

  @nn.compact
  def __call__(self, x, train):
    x = nn.Dense(16, use_bias=not self.batch_norm, name='fc')(x)
    if self.batch_norm:
      x = nn.BatchNorm(use_running_average=not train, name='bn')(x)
    return nn.relu(x)


class _Nested(nn.Module):
  batch_norm: bool = True

  @nn.compact
  def __call__(self, x, train=False):
    x = _Block(self.batch_norm, name='block')(x.reshape((x.shape[0], -1)),
                                              train)
    return nn.Dense(10, name='head')(x)


def test_fold_batch_norm_inside_a_submodule():
  model = _Nested()
  x = np.asarray(jax.random.normal(jax.random.key(1), (4, 28, 28, 1)))
  v = jax.tree.map(np.asarray, model.init(jax.random.key(0), x[:1]))
  v['batch_stats']['block']['bn'] = {'mean': np.full(16, 0.2, np.float32),
                                     'var': np.full(16, 1.5, np.float32)}
  folded_model, folded = fold_bn.fold_batch_norm(model, v, x)
  assert sorted(folded['params']) == ['block', 'head']
  assert sorted(folded['params']['block']) == ['fc']
  assert sorted(folded['params']['block']['fc']) == ['bias', 'kernel']
  np.testing.assert_allclose(folded_model.apply(folded, x), model.apply(v, x),
                             rtol=1e-4, atol=1e-5)
