import jax
import numpy as np
import pytest

from jaxcompress import deep_compression as dc


def test_kmeans_1d_hand_example():
  centroids, codes = dc.kmeans_1d(np.array([0.0, 0.1, 1.0, 1.1]), bits=1)
  np.testing.assert_allclose(centroids, [0.05, 1.05], rtol=1e-6)
  np.testing.assert_array_equal(codes, [0, 0, 1, 1])


def _sparse_params(density, seed=0):
  rng = np.random.default_rng(seed)
  k = rng.normal(size=(300, 100)).astype(np.float32)
  k[rng.random(k.shape) > density] = 0.0
  k[0, :] = 0.0
  k[:5] = 0.0  # a run of 500 zeros: gaps longer than 255 need fillers
  k[5, 0] = 0.7
  return {'fc1': {'kernel': k, 'bias': rng.normal(size=100).astype(np.float32)}}


@pytest.mark.parametrize('bits', [5, 8])
def test_file_decodes_to_the_shared_weights_exactly(tmp_path, bits):
  params = _sparse_params(0.1)
  rules = [('kernel', bits)]
  shared = dc.quantize_params(params, rules)
  k = shared['fc1']['kernel']
  assert len(np.unique(k[k != 0])) <= 2**bits
  np.testing.assert_array_equal(k == 0, params['fc1']['kernel'] == 0)
  path = str(tmp_path / 'm.dc')
  n = dc.save(params, rules, path)
  loaded = dc.load(path, params)
  jax.tree.map(np.testing.assert_array_equal, loaded, shared)
  # 10% density: far below the 120,400 float32 bytes.
  assert n < (300 * 100 + 100) * 4 / (15 if bits == 5 else 10)


def test_bad_input():
  params = _sparse_params(0.1)
  with pytest.raises(ValueError, match='bits must be in 1..8'):
    dc.quantize_params(params, [('kernel', 9)])
  with pytest.raises(ValueError, match='match no parameter'):
    dc.quantize_params(params, [('conv', 5)])


def test_load_into_another_model_raises(tmp_path):
  params = _sparse_params(0.1)
  path = str(tmp_path / 'm.dc')
  dc.save(params, [('kernel', 4)], path)
  with pytest.raises(ValueError, match='the model expects'):
    dc.load(path, {'fc2': {'kernel': np.zeros((3, 3))}})
