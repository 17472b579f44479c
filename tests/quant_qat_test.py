"""QAT quantizers (range grid, LSQ) and how their grids reach the settings,
against values computed by hand."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress.quantization import apply as A
from jaxcompress.quantization import qat
from jaxcompress.quantization.quantizers import QuantSpec
from jaxcompress.quantization.report import QuantSettings

W = jnp.array([[0.4, -1.2], [0.1, 0.8]])
PARAMS = {'fc1': {'kernel': W, 'bias': jnp.array([0.5, -0.5])},
          'fc2': {'kernel': jnp.array([[2.0], [-0.6]]),
                  'bias': jnp.array([0.1])}}


def test_range_quantizer_uses_the_tensors_own_range():
  q = qat.range_quantizer()
  spec = QuantSpec(2)                       # codes -1..1, s = max|w| = 1.2
  assert q.init(W, spec, 'minmax') is None and not q.trainable
  np.testing.assert_allclose(q.apply(W, None, spec, 'minmax'),
                             [[0.0, -1.2], [0.0, 1.2]], rtol=1e-6)
  s, z = q.qparams(W, None, spec, 'minmax')
  np.testing.assert_allclose([s.item(), z.item()], [1.2, 0.0], rtol=1e-6)


def test_lsq_quantizer_by_hand():
  q = qat.lsq_quantizer()
  spec = QuantSpec(3)                        # qmax 3
  step = q.init(W, spec, 'minmax')
  # 2 mean|w| / sqrt(qmax) = 2 * 0.625 / sqrt(3)
  assert float(step) == pytest.approx(1.25 / np.sqrt(3), rel=1e-6)
  out = q.apply(W, jnp.float32(0.5), spec, 'minmax')
  # 0.5 clip(round(w / 0.5), -3, 3): 0.8 -> 2, 0.4 -> 1, 0.1 -> 0, -1.2 -> -2
  np.testing.assert_allclose(out, [[0.5, -1.0], [0.0, 1.0]])
  s, z = q.qparams(W, jnp.float32(-0.5), spec, 'minmax')
  assert float(s) == pytest.approx(0.5) and float(z) == 0.0
  with pytest.raises(ValueError, match='symmetric'):
    q.init(W, QuantSpec(3, symmetric=False), 'minmax')


def _settings(preserve=False):
  specs = A.weight_specs(PARAMS, [('kernel', QuantSpec(3))])
  layers = {'fc1': A.LayerQuant(QuantSpec(3), QuantSpec(8))}
  return QuantSettings(specs=specs, layers=layers,
                       preserve_sparsity=preserve)


def test_params_fn_of_each_quantizer():
  settings = _settings()
  # Range grid: fc1's kernel is left to its layer, fc2's is quantized.
  fn, aux_init = qat.qat_params_fn(settings, qat.range_quantizer())
  assert aux_init is None
  out = fn(PARAMS, None)
  np.testing.assert_array_equal(out['fc1']['kernel'], W)
  # fc2: s = 2 / 3, codes round(-0.9) = -1.
  np.testing.assert_allclose(out['fc2']['kernel'], [[2.0], [-2 / 3]],
                             rtol=1e-6)
  assert qat.train_layers(settings, qat.range_quantizer()) == settings.layers
  # LSQ: every quantized kernel through its own step; layers keep inputs.
  fn, aux_init = qat.qat_params_fn(_settings(preserve=True),
                                   qat.lsq_quantizer())
  aux = aux_init(PARAMS)
  assert sorted(aux) == ['fc1/kernel', 'fc2/kernel']
  aux = {'fc1/kernel': jnp.float32(0.5), 'fc2/kernel': jnp.float32(1.0)}
  zeroed = {**PARAMS, 'fc1': {**PARAMS['fc1'],
                              'kernel': W.at[1, 0].set(0.0)}}
  out = fn(zeroed, aux)
  np.testing.assert_allclose(out['fc1']['kernel'], [[0.5, -1.0], [0., 1.0]])
  np.testing.assert_allclose(out['fc2']['kernel'], [[2.0], [-1.0]])
  np.testing.assert_array_equal(out['fc1']['bias'], PARAMS['fc1']['bias'])
  layers = qat.train_layers(settings, qat.lsq_quantizer())
  assert layers['fc1'].weight is None and layers['fc1'].act == QuantSpec(8)


def test_with_weight_qparams_fixes_the_trained_grid():
  settings = _settings()
  assert qat.with_weight_qparams(settings, qat.range_quantizer(), None,
                                 PARAMS) is settings
  aux = {'fc1/kernel': jnp.float32(-0.5), 'fc2/kernel': jnp.float32(0.25)}
  fixed = qat.with_weight_qparams(settings, qat.lsq_quantizer(), aux, PARAMS)
  scales = {k: float(s) for k, (s, _) in fixed.weight_qparams.items()}
  assert scales == pytest.approx({'fc1/kernel': 0.5, 'fc2/kernel': 0.25})
  assert all(float(z) == 0.0 for _, z in fixed.weight_qparams.values())
  lq = fixed.layers['fc1']
  assert float(lq.weight_scale) == pytest.approx(0.5)
  assert float(lq.weight_zero_point) == 0.0
