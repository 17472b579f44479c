"""The files a latency budget is planned on (`jaxcompress.export.widths`)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress import export, models, structured
from jaxcompress.export import widths as export_widths


@pytest.fixture(scope='module')
def lenet5():
  model = models.get_model('lenet5')
  x = np.random.default_rng(0).random((4, 28, 28, 1), np.float32)
  variables = jax.jit(model.init)(jax.random.key(0), jnp.asarray(x[:1]))
  graph = structured.trace_groups(model, variables, (28, 28, 1))
  return model, variables, graph, x


def test_shrunk_file_computes_the_model_keeping_the_first_units(lenet5):
  model, variables, graph, x = lenet5
  widths = {'conv1': 7, 'conv2': 12, 'fc1': 100}
  tflite = export_widths.shrunk_file(model, variables, graph, widths,
                                     input_shape=(28, 28, 1))
  keep = {g: np.arange(w) for g, w in widths.items()}
  masked = structured.mask_variables(graph, variables, keep)
  run = export.runner(tflite)
  got = np.concatenate([run(x[i:i + 1]) for i in range(len(x))])
  np.testing.assert_allclose(got, model.apply(masked, x), atol=1e-5)
  # The file holds the shrunk kernels: 7 and 12 channels, 100 units.
  ops = export.op_names(tflite)
  assert ops.count('CONV_2D') + ops.count('DEPTHWISE_CONV_2D') == 2
  assert len(tflite) < len(export.to_tflite(model, variables,
                                            input_shape=(28, 28, 1))) / 10


def test_width_timer_reports_every_file_on_the_dense_scale(lenet5):
  model, variables, graph, x = lenet5
  timer = export_widths.WidthTimer(model, variables, graph, x[:1],
                                   rounds=20, block=5, loops=2)
  assert timer.dense_ms > 0
  # A file's ms is its time relative to the dense file timed beside it,
  # times the dense file's ms: the dense file itself comes out at dense_ms
  # (the same file twice in one loop; a loose bound, not a speed target).
  same, small = timer.relative([timer.dense_file, export_widths.shrunk_file(
      model, variables, graph, {'conv1': 5, 'conv2': 10, 'fc1': 50},
      input_shape=(28, 28, 1))])
  assert same == pytest.approx(timer.dense_ms, rel=0.5)
  assert small > 0
  with pytest.raises(ValueError, match="quantize"):
    export_widths.WidthTimer(model, variables, graph, x[:1], quantize='fp16')


def test_shrunk_file_converts_like_the_deployed_file(lenet5):
  model, variables, graph, x = lenet5
  widths = {'conv1': 7, 'conv2': 12, 'fc1': 100}
  kw = dict(input_shape=(28, 28, 1))
  f32 = export_widths.shrunk_file(model, variables, graph, widths, **kw)
  int8 = export_widths.shrunk_file(model, variables, graph, widths,
                                   quantize='int8', calibration_images=x,
                                   **kw)
  # int8: the image quantized on the way in, int8 kernels (a quarter of
  # the float ones; the file's own structure is the same size either way),
  # as `export.to_tflite` writes the deployed file.
  assert 'QUANTIZE' in export.op_names(int8)
  assert 'QUANTIZE' not in export.op_names(f32)
  assert len(int8) < len(f32) / 2
