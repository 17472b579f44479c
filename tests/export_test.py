"""LiteRT export: parity with the JAX and integer models on real MNIST.

Short runs through the real train loop (a few hundred steps: parity is about
agreement, not accuracy), exported with `jaxcompress.export` and run in the
LiteRT interpreter on the MNIST test set.
"""

import importlib.util
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from conftest import REPO, tiny_config

from jaxcompress import data, export, models, train
from jaxcompress.export import carry, fold, runs, space_to_depth
from jaxcompress.export import flatbuffer as fb
from jaxcompress.quantization import integer
from jaxcompress.quantization.quantizers import QuantSpec

MNIST = (28, 28, 1)

pytestmark = pytest.mark.filterwarnings('ignore::UserWarning')


@pytest.fixture(scope='module')
def mnist():
  return data.load()


@pytest.fixture(scope='module')
def qat_run(tmp_path_factory):
  """LeNet-300-100, int8 weights and inputs, QAT for 300 steps."""
  w = str(tmp_path_factory.mktemp('qat'))
  c = tiny_config(train_subset=0, test_subset=0, batch_size=128,
                  num_train_steps=300, steps_per_call=100)
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=8, act_bits=8, calib_images=500))
  train.train_and_evaluate(c, w)
  return w


@pytest.fixture(scope='module')
def ptq_run(tmp_path_factory):
  """LeNet-5 trained 150 steps, then int8 PTQ (weights and inputs)."""
  from jaxcompress import pipelines
  w = str(tmp_path_factory.mktemp('ptq'))
  c = tiny_config(model='lenet5', train_subset=0, test_subset=1000,
                  batch_size=64, num_train_steps=100, steps_per_call=50,
                  in_memory=False, pipeline='ptq')
  c.quantization = ml_collections.ConfigDict(dict(
      weight_bits=8, act_bits=8, calib_images=500))
  c.ptq = ml_collections.ConfigDict(dict(variants=(('w8a8', {}),)))
  pipelines.run(c, w)
  return w


@pytest.fixture(scope='module')
def shrunk_run(tmp_path_factory):
  """LeNet-300-100 pruned (pixels and units), shrunk and fine-tuned."""
  from jaxcompress import pipelines
  from jaxcompress.plugins import default_section
  w = str(tmp_path_factory.mktemp('shrunk'))
  c = tiny_config(model='lenet_300_100', num_train_steps=40,
                  pipeline='prune_shrink_finetune')
  c.structured = default_section('structured')
  c.structured.score = 'l2'
  c.structured.inputs = True
  c.structured.rules = (('input', 0.5), ('fc1', 0.8), ('fc2', 0.7))
  c.structured.step = 20
  c.structured.finetune_epochs = 0.625
  pipelines.run(c, w)
  return w


def _binary():
  spec = importlib.util.spec_from_file_location(
      'export_binary', os.path.join(REPO, 'experiments', 'export.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def test_binary_int8_qat_run_carries_its_grid(qat_run, capsys):
  """experiments/export.py on a QAT run: the issue's two int8 targets."""
  from absl import flags
  binary = _binary()
  flags.FLAGS(['export', f'--workdir={qat_run}', '--quantize=int8',
               '--repeats=50'])
  try:
    binary.main([])
  finally:
    flags.FLAGS.unparse_flags()
  out = capsys.readouterr().out
  r = json.loads(out[out.index('{'):])
  path = os.path.join(qat_run, 'model_int8.tflite')
  assert r['file'] == path and r['bytes'] == os.path.getsize(path)
  assert r['kind'] == 'qat' and r['int8_grid'] == 'run'
  assert r['carried_layers'] == ['fc1', 'fc2', 'fc3']
  # Only the logits keep the converter's grid.
  assert len(r['converter_grid_kept_on']) == 1
  assert r['top1_agreement_with_integer'] >= 0.995
  assert abs(r['litert_test_error'] - r['integer_test_error']) <= 0.001
  with open(os.path.join(qat_run, 'results.json')) as f:
    assert r['integer_test_error'] == pytest.approx(
        json.load(f)['qat_integer_error'], abs=1e-6)
  # int8 weights: a quarter of the float32 bytes, plus the graph.
  assert r['bytes'] < 0.3 * 266_610 * 4
  assert not [f for f in os.listdir(qat_run) if f.endswith('.tmp')]
  # The file holds the run's own codes and grids.
  im = runs.load(qat_run).integer_model
  with open(path, 'rb') as f:
    model = fb.read(f.read())
  sg = model.subgraphs[0]
  ops = carry._kernel_ops(model, sg)
  for layer, lq in im.layers.items():
    op = ops[layer]
    s_x, z_x = fb.quantization(sg.tensors[op.inputs[0]])
    assert s_x[0] == np.float32(lq.act_scale)
    assert z_x[0] == round(float(lq.act_zero_point)) - 128
    w = fb.data(model, sg.tensors[op.inputs[1]], np.int8)
    np.testing.assert_array_equal(
        w, np.asarray(im.qweights[f'params/{layer}/kernel'].codes()).T)




def test_float_and_dynamic_exports_match_jax(qat_run, mnist):
  run = runs.load(qat_run)
  x, y = mnist.test_images, mnist.test_labels
  f = jax.jit(lambda b: run.model.apply(run.variables, b))
  tflite, _ = runs.export(run, 'none', mnist)
  lite = export.predict(tflite, x[:1000])
  want = np.concatenate([np.asarray(f(x[i:i + 1])) for i in range(1000)])
  np.testing.assert_allclose(lite, want, rtol=0, atol=1e-5)
  dyn, _ = runs.export(run, 'dynamic', mnist)
  assert len(dyn) < 0.3 * len(tflite)
  dyn_logits = export.predict(dyn, x)
  jax_error = float(np.mean(np.asarray(f(x)).argmax(-1) != y))
  assert abs(np.mean(dyn_logits.argmax(-1) != y) - jax_error) <= 0.002


def test_ptq_lenet5_int8_parity_on_mnist_test_set(ptq_run, mnist):
  with pytest.raises(ValueError, match='quantization sweep.*ptq/w8a8'):
    runs.load(ptq_run)
  run = runs.load(os.path.join(ptq_run, 'ptq', 'w8a8'))
  assert run.kind == 'ptq'
  tflite, info = runs.export(run, 'int8', mnist)
  assert info['carry']['layers'] == ['conv1', 'conv2', 'fc1', 'fc2']
  # conv1 (one input channel) is a CONV_2D of the space-to-depth input,
  # holding the run's own codes in that layout, not a depthwise op.
  ops = export.op_names(tflite)
  assert ops.count('CONV_2D') == 2 and 'DEPTHWISE_CONV_2D' not in ops
  model = fb.read(tflite)
  sg = model.subgraphs[0]
  conv1 = carry._kernel_ops(model, sg)['conv1']
  codes = np.asarray(run.integer_model.qweights['params/conv1/kernel'].codes())
  np.testing.assert_array_equal(
      fb.data(model, sg.tensors[conv1.inputs[1]], np.int8),
      space_to_depth.kernel(codes.astype(np.int8)).transpose(3, 0, 1, 2))
  r = runs.evaluate(run, tflite, info, mnist)
  assert r['top1_agreement_with_integer'] >= 0.995
  assert abs(r['litert_test_error'] - r['integer_test_error']) <= 0.001
  # The float export (batch norm folded, float32.jxq) matches JAX at batch 1.
  float_file, _ = runs.export(run, 'none', mnist)
  assert 'DEPTHWISE_CONV_2D' in export.op_names(float_file)  # model's graph
  x = mnist.test_images[:500]
  f = jax.jit(lambda b: run.model.apply(run.variables, b))
  want = np.concatenate([np.asarray(f(x[i:i + 1])) for i in range(len(x))])
  np.testing.assert_allclose(export.predict(float_file, x), want, rtol=0,
                             atol=1e-5)


@pytest.mark.parametrize('size,padding,hw,c', [
    (5, 'VALID', (28, 28), 20), (5, 'VALID', (12, 16), 3),
    (3, 'SAME', (28, 28), 4), (7, ((2, 2), (1, 3)), (10, 12), 2)])
def test_space_to_depth_conv_equals_the_convolution(size, padding, hw, c):
  conv = nn.Conv(c, (size, size), padding=padding)
  x = jax.random.normal(jax.random.key(0), (3, *hw, 1))
  v = conv.init(jax.random.key(1), x)
  assert space_to_depth.applies(conv, x.shape)
  p = jax.tree.map(np.asarray, v['params'])
  got = space_to_depth.conv(conv, x, p['kernel'], p['bias'])
  np.testing.assert_allclose(got, conv.apply(v, x), rtol=0, atol=1e-5)
  # The kernel holds the model's values in a new layout, zeros elsewhere.
  k2 = space_to_depth.kernel(p['kernel'])
  assert k2.shape == ((size + 1) // 2,) * 2 + (4, 4 * c)
  np.testing.assert_array_equal(np.sort(k2[k2 != 0]),
                                np.sort(np.tile(p['kernel'].ravel(), 4)))


def test_space_to_depth_applies_only_where_it_computes_the_same():
  x = (1, 28, 28, 1)
  assert not space_to_depth.applies(nn.Conv(4, (5, 5)), (1, 28, 28, 2))
  assert not space_to_depth.applies(nn.Conv(4, (4, 4), padding='VALID'), x)
  assert not space_to_depth.applies(nn.Conv(4, (5, 5), strides=2), x)
  assert not space_to_depth.applies(
      nn.Conv(4, (5, 5), kernel_dilation=2), x)
  assert not space_to_depth.applies(nn.Conv(4, (5, 5), padding='VALID'),
                                    (1, 27, 28, 1))   # odd input
  assert not space_to_depth.applies(nn.Dense(4), x)
  with pytest.raises(ValueError, match='one input channel'):
    space_to_depth.kernel(np.zeros((5, 5, 2, 3)))


def test_shrunk_model_with_pixel_gather(shrunk_run, mnist):
  run = runs.load(shrunk_run)
  assert run.kind == 'shrunk' and len(run.model.inputs) == 392
  assert run.model.features == (60, 30)
  x = mnist.test_images[:300]
  tflite, _ = runs.export(run, 'none', mnist)
  assert 'GATHER' in ' '.join(export.op_names(tflite))
  f = jax.jit(lambda b: run.model.apply(run.variables, b))
  want = np.concatenate([np.asarray(f(x[i:i + 1])) for i in range(len(x))])
  np.testing.assert_allclose(export.predict(tflite, x), want, rtol=0,
                             atol=1e-5)
  # Quantized files read every pixel: the gather becomes zero rows of fc1.
  int8, _ = runs.export(run, 'int8', mnist)
  assert 'GATHER' not in ' '.join(export.op_names(int8))
  jax_top1 = np.asarray(f(x)).argmax(-1)
  assert np.mean(export.predict(int8, x).argmax(-1) == jax_top1) >= 0.99
  cols = runs.edge_columns(shrunk_run, repeats=20)
  assert set(cols) == {'tflite_bytes', 'litert_int8_b1_ms'}
  # int8 weights of 784*60 + 60*30 + 30*10 parameters, plus the graph.
  assert 49_000 < cols['tflite_bytes'] < 60_000
  assert cols['litert_int8_b1_ms'] > 0


def _carried_integer_model(model, spec, x):
  """(integer model, carried int8 file, carry report) of `model` with random
  weights and biases, `spec` on every kernel, 8-bit affine inputs
  calibrated on `x`."""
  from jaxcompress.quantization import apply as A
  v = model.init(jax.random.key(0), x[:1])
  rng = np.random.default_rng(0)   # trained biases are not zero
  v = jax.tree_util.tree_map_with_path(
      lambda p, a: (rng.normal(0, 0.1, a.shape).astype(np.float32)
                    if p[-1].key == 'bias' else a), v)
  specs = A.weight_specs(v['params'], [('kernel', spec)])
  layers = {n: A.LayerQuant(spec, s) for n, s in A.act_specs(
      v['params'], [('kernel', QuantSpec(8, symmetric=False))]).items()}
  layers = A.calibrate_layers(model.apply, v, x, layers)
  im = integer.convert(model, v, specs, layers)
  raw = export.to_tflite(model, im.float_variables(), input_shape=MNIST,
                         quantize='int8', calibration_images=x)
  tflite, report = carry.carry_integer_model(raw, im)
  return im, tflite, report


def _assert_computes_integer_model(im, tflite, x):
  want = np.asarray(im(x))
  got = export.predict(tflite, x)
  assert np.mean(got.argmax(-1) == want.argmax(-1)) >= 0.99
  return got


def test_gathered_mlp_integer_model_carries_into_zero_rows(mnist):
  """An integer MLP that gathers its pixels, carried into the int8 file that
  reads every pixel: fc1's codes land on the gathered rows, zeros elsewhere,
  and the file computes the integer model's logits."""
  inputs = tuple(range(100, 700, 2))
  model = models.MLP(features=(40, 20), inputs=inputs)
  im, tflite, report = _carried_integer_model(
      model, QuantSpec(8, axis=-1), mnist.train_images[:256])
  assert report['layers'] == ['fc1', 'fc2', 'fc3']
  assert 'GATHER' not in ' '.join(export.op_names(tflite))
  m = fb.read(tflite)
  sg = m.subgraphs[0]
  w = fb.data(m, sg.tensors[carry._kernel_ops(m, sg)['fc1'].inputs[1]],
              np.int8)
  codes = np.asarray(im.qweights['params/fc1/kernel'].codes())
  assert w.shape == (40, 784)
  np.testing.assert_array_equal(w[:, list(inputs)], codes.T)
  assert not np.any(np.delete(w, list(inputs), axis=1))
  got = _assert_computes_integer_model(im, tflite, mnist.test_images[:200])
  assert np.max(np.abs(got - im(mnist.test_images[:200]))) < 0.05 * np.max(
      np.abs(got))


@pytest.mark.parametrize('axis', [None, -1])
def test_space_to_depth_conv_carries_per_tensor_and_per_channel(axis, mnist):
  """conv1 of one input channel, carried onto the space-to-depth CONV_2D:
  its scale (one, or one per channel repeated for the four positions) and
  bias grid, and the file computes the integer model's logits."""
  model = models.LeNet5(features=(6, 8, 16))
  im, tflite, report = _carried_integer_model(
      model, QuantSpec(8, axis=axis), mnist.train_images[:256])
  assert report['layers'] == ['conv1', 'conv2', 'fc1', 'fc2']
  m = fb.read(tflite)
  sg = m.subgraphs[0]
  op = carry._kernel_ops(m, sg)['conv1']
  assert tuple(sg.tensors[op.inputs[1]].shape) == (24, 3, 3, 4)
  scale, _ = fb.quantization(sg.tensors[op.inputs[1]])
  want = np.asarray(im.qweights['params/conv1/kernel'].scale).reshape(-1)
  np.testing.assert_array_equal(scale, np.full(24, want[0]) if axis is None
                                else np.tile(want, 4))
  x = mnist.test_images[:200]
  got = _assert_computes_integer_model(im, tflite, x)
  # The same integer products as conv1 exported in the model's own graph
  # (a DEPTHWISE_CONV_2D), carried onto the same grid: the same int8 logits
  # (the two files' output scales, calibrated apart, differ in the last
  # float bits; one code apart would be 1e-2 away).
  depthwise = export.function_to_tflite(
      fold.inference_fn(model, im.float_variables(), MNIST), input_shape=MNIST,
      quantize='int8', calibration_images=mnist.train_images[:256])
  assert 'DEPTHWISE_CONV_2D' in export.op_names(depthwise)
  depthwise, _ = carry.carry_integer_model(depthwise, im)
  np.testing.assert_allclose(got, export.predict(depthwise, x), rtol=0,
                             atol=1e-5)


def test_pruned_deep_compression_run_exports_its_decoded_model(tmp_path,
                                                             mnist):
  c = tiny_config(test_subset=500)
  c.pruning = ml_collections.ConfigDict(dict(sparsity=0.8,
                                             schedule='one_shot', step=0.0))
  c.deep_compression = ml_collections.ConfigDict({'rules': (('kernel', 5),)})
  _, r = train.train_and_evaluate(c, str(tmp_path))
  run = runs.load(str(tmp_path))
  assert run.kind == 'deep_compression'
  kernel = np.asarray(run.variables['params']['fc1']['kernel'])
  assert 0.75 < np.mean(kernel == 0) < 0.85
  assert len(np.unique(kernel[kernel != 0])) <= 2 ** 5   # shared weights
  tflite, _ = runs.export(run, 'none', mnist)
  x = mnist.test_images[:500]
  assert export.error(tflite, x, mnist.test_labels[:500]) == pytest.approx(
      r['compressed_test_error'], abs=1e-6)


class _TinyViT(nn.Module):
  """Patch embedding, one pre-norm attention block, mean pool, head."""

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.Conv(32, (7, 7), strides=(7, 7), name='patch')(x)
    x = x.reshape((x.shape[0], -1, 32))
    x = x + self.param('pos', nn.initializers.normal(0.02), (1, 16, 32))
    y = nn.LayerNorm(name='ln1')(x)
    x = x + nn.MultiHeadDotProductAttention(2, name='attn')(y, y)
    y = nn.LayerNorm(name='ln2')(x)
    x = x + nn.Dense(32, name='mlp2')(nn.gelu(nn.Dense(64, name='mlp1')(y)))
    return nn.Dense(10, name='head')(x.mean(axis=1))


@pytest.mark.parametrize('model', [_TinyViT(),
                                   models.get_model('vit_tiny')])
def test_attention_block_exports(model):
  """A hand-written pre-norm block, and the zoo's ViT."""
  v = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  rng = np.random.default_rng(3)
  x = rng.normal(size=(4, 28, 28, 1)).astype(np.float32)
  tflite = export.to_tflite(model, v, input_shape=MNIST)
  f = jax.jit(lambda b: model.apply(v, b))
  want = np.concatenate([np.asarray(f(x[i:i + 1])) for i in range(4)])
  np.testing.assert_allclose(export.predict(tflite, x), want, rtol=0,
                             atol=1e-5)
  int8 = export.to_tflite(model, v, input_shape=MNIST, quantize='int8',
                          calibration_images=x)
  # Transformer ops keep the int8 file's kernels int8 and the rest float,
  # as jaxcompress's integer model does.
  m = fb.read(int8)
  g = m.subgraphs[0]
  kinds = {}
  for op in g.operators:
    kinds.setdefault(fb.op_name(m, op), set()).update(
        fb.int_type(g.tensors[i]) for i in op.inputs if i >= 0)
  assert kinds['FULLY_CONNECTED'] >= {'int8'}
  assert kinds['BATCH_MATMUL'] == {None} and kinds['SOFTMAX'] == {None}
  assert 'QUANTIZE' in kinds and 'DEQUANTIZE' in kinds


def _perturbed(model, seed=0):
  """Random variables with non-trivial batch-norm statistics."""
  v = jax.jit(model.init)(jax.random.key(seed), jnp.zeros((1, 28, 28, 1)))
  rng = np.random.default_rng(seed)

  def one(path, x):
    name = '/'.join(str(getattr(k, 'key', k)) for k in path)
    if name.endswith('/var'):
      return rng.uniform(0.5, 2.0, x.shape).astype(np.float32)
    if name.endswith(('/mean', '/scale')) or ('bn' in name and
                                              name.endswith('/bias')):
      return rng.normal(0.5, 0.5, x.shape).astype(np.float32)
    return np.asarray(x)

  return jax.tree_util.tree_map_with_path(one, v)


@pytest.mark.parametrize('name,kw,adds', [
    ('resnet_small', {}, 2), ('lenet5', {'batch_norm': True}, 0),
    ('mlp_30_30', {'batch_norm': True}, 0)])
def test_batch_norm_is_folded(name, kw, adds):
  model = models.get_model(name, **kw)
  v = _perturbed(model)
  tflite = export.to_tflite(model, v, input_shape=MNIST)
  ops = export.op_names(tflite)
  # Only the residual additions remain: no BN mul/sub/rsqrt, no bias adds.
  assert ops.count('ADD') == adds
  assert not {'MUL', 'SUB', 'RSQRT', 'DIV', 'SQRT'} & set(ops)
  x = np.random.default_rng(1).normal(size=(8, 28, 28, 1)).astype(np.float32)
  f = jax.jit(lambda b: model.apply(v, b))
  want = np.concatenate([np.asarray(f(x[i:i + 1])) for i in range(8)])
  np.testing.assert_allclose(export.predict(tflite, x), want, rtol=0,
                             atol=1e-5)


def test_residual_net_full_int8():
  model_fn = models.get_model('resnet_small')
  v = _perturbed(model_fn)
  rng = np.random.default_rng(2)
  calib = rng.normal(size=(32, 28, 28, 1)).astype(np.float32)
  tflite = export.to_tflite(model_fn, v, input_shape=MNIST, quantize='int8',
                            calibration_images=calib)
  model = fb.read(tflite)
  sg = model.subgraphs[0]
  kernels = [op for op in sg.operators
             if fb.op_name(model, op) in carry.KERNEL_OPS]
  assert len(kernels) == 7   # stem, 2 per block, 1 projection, head
  assert {fb.int_type(sg.tensors[op.inputs[0]]) for op in kernels} == {'int8'}
  assert {fb.int_type(sg.tensors[op.inputs[1]]) for op in kernels} == {'int8'}
  x = calib[:4]
  f = jax.jit(lambda b: model_fn.apply(v, b))
  want = np.asarray(f(x))
  got = export.predict(tflite, x)
  assert np.max(np.abs(got - want)) < 0.1 * np.max(np.abs(want))


def test_sparse_encoding_is_lossless_and_smaller():
  model = models.get_model('mlp_128')
  v = jax.jit(model.init)(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  rng = np.random.default_rng(0)
  v = jax.tree.map(lambda a: np.where(rng.random(a.shape) < 0.9, 0.0, a)
                   .astype(np.float32) if a.ndim == 2 else np.asarray(a), v)
  dense = export.to_tflite(model, v, input_shape=MNIST)
  sparse = export.to_tflite(model, v, input_shape=MNIST, sparse=True)
  assert len(sparse) < 0.3 * len(dense)
  assert 'DENSIFY' in export.op_names(sparse)
  x = rng.normal(size=(4, 28, 28, 1)).astype(np.float32)
  np.testing.assert_array_equal(export.predict(sparse, x),
                                export.predict(dense, x))


class _Sorting(nn.Module):

  @nn.compact
  def __call__(self, x):
    return jnp.sort(x, axis=-1)


class _WithSort(nn.Module):

  @nn.compact
  def __call__(self, x, train=False):
    x = nn.Dense(16, name='fc1')(x.reshape((x.shape[0], -1)))
    x = _Sorting(name='ranker')(x)
    return nn.Dense(10, name='fc2')(x)


def test_unexportable_op_names_the_layer():
  model = _WithSort()
  v = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  with pytest.raises(ValueError, match="layer 'ranker'.*'sort'"):
    export.to_tflite(model, v, input_shape=MNIST)


def test_bad_arguments_fail_before_converting(tmp_path):
  model = models.get_model('mlp_64')
  v = model.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  with pytest.raises(ValueError, match="Unknown quantize mode 'int4'"):
    export.to_tflite(model, v, input_shape=MNIST, quantize='int4')
  with pytest.raises(ValueError, match='calibration_images are required'):
    export.to_tflite(model, v, input_shape=MNIST, quantize='int8')
  with pytest.raises(ValueError, match=r'shape \(N,\) \+ \(28, 28, 1\)'):
    export.to_tflite(model, v, input_shape=MNIST, quantize='int8',
                     calibration_images=np.zeros((4, 784), np.float32))
  with pytest.raises(ValueError, match='No such workdir'):
    runs.load(str(tmp_path / 'missing'))
  affine = integer.convert(model, v, {
      'fc1': {'kernel': QuantSpec(8, symmetric=False), 'bias': None},
      'fc2': {'kernel': QuantSpec(8), 'bias': None}})
  with pytest.raises(ValueError, match="Layer 'fc1'.*symmetric"):
    export.check_integer_model(affine)
