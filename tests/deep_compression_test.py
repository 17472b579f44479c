import jax
import numpy as np
import pytest

from jaxcompress import deep_compression as dc


def test_kmeans_1d_hand_example():
  centroids, codes = dc.kmeans_1d(np.array([0.0, 0.1, 1.0, 1.1]), bits=1)
  np.testing.assert_allclose(centroids, [0.05, 1.05], rtol=1e-6)
  np.testing.assert_array_equal(codes, [0, 0, 1, 1])


def _optimal_sse_1d(values, k):
  """Least sum of squared errors of any k-clustering of 1-D `values`: exact
  dynamic programming over the sorted values (clusters of an optimal 1-D
  k-means are contiguous runs; Wang & Song 2011)."""
  v = np.sort(np.asarray(values, np.float64))
  n = v.size
  s1 = np.concatenate([[0.0], np.cumsum(v)])
  s2 = np.concatenate([[0.0], np.cumsum(v * v)])
  best = np.full(n + 1, np.inf)
  best[0] = 0.0                        # best[j]: v[:j] in c clusters
  for _ in range(k):
    new = np.full(n + 1, np.inf)
    for j in range(1, n + 1):
      i = np.arange(j)                 # last cluster is v[i:j]
      m = j - i
      sse = s2[j] - s2[i] - (s1[j] - s1[i]) ** 2 / m
      new[j] = np.min(best[i] + sse)
    best = np.minimum(best, new)       # fewer clusters are allowed too
  return best[n]


def _skewed(n=400, seed=0):
  """Most weights near 0, a tail of large ones of one sign (a skewed layer)."""
  rng = np.random.default_rng(seed)
  return np.concatenate([rng.normal(0.0, 0.1, n - n // 10),
                         rng.normal(2.0, 0.5, n // 10)])


def test_kmeans_1d_converges_each_centroid_the_mean_of_its_members():
  values = _skewed()
  centroids, codes = dc.kmeans_1d(values, bits=2)
  assert np.all(np.diff(centroids) > 0)
  # Each value is coded by its nearest centroid ...
  dist = np.abs(values[:, None] - centroids[None, :].astype(np.float64))
  np.testing.assert_array_equal(codes, np.argmin(dist, axis=1))
  # ... and each centroid is the mean of the values it codes (a fixed point
  # of Lloyd's iteration).
  for j in range(4):
    members = values[codes == j]
    assert members.size > 0, j
    assert centroids[j] == pytest.approx(members.mean(), rel=1e-6, abs=1e-7)


def test_kmeans_1d_error_on_skewed_2_bit_data_is_near_optimal():
  values = _skewed()
  centroids, codes = dc.kmeans_1d(values, bits=2)
  sse = np.sum((values - centroids[codes].astype(np.float64)) ** 2)
  optimum = _optimal_sse_1d(values, 4)
  assert 0 < optimum <= sse <= 1.05 * optimum
  # Through weight sharing of a pruned kernel: zeros stay zero, the nonzeros
  # are shared as well.
  k = np.zeros((40, 20), np.float32)
  k.reshape(-1)[::2] = values.astype(np.float32)
  shared = dc.quantize_params({'fc': {'kernel': k}}, [('kernel', 2)])
  s = shared['fc']['kernel']
  np.testing.assert_array_equal(s == 0, k == 0)
  assert len(np.unique(s[k != 0])) == 4
  assert np.sum((s - k).astype(np.float64) ** 2) <= 1.05 * _optimal_sse_1d(
      k[k != 0], 4)


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
