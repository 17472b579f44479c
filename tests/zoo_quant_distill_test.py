"""Quantization and distillation of the zoo with the library functions, on
tfds mock CIFAR-10 batches: int8 / int4 QAT of ResNet-20's convolutions
(batch norm folded) and of the ViT's attention and MLP Dense layers, each
integer model bit-exact with its fake-quant evaluation; and distillation of
ResNet-56 into ResNet-20."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import tensorflow_datasets as tfds

from jaxcompress import data, distill, models
from jaxcompress.quantization import apply as A
from jaxcompress.quantization import fold_bn
from jaxcompress.quantization import integer as I
from jaxcompress.quantization.quantizers import QuantSpec

INT8 = QuantSpec(8, axis=-1)                   # per output channel
INT4 = QuantSpec(4, axis=-1)
ACT8 = QuantSpec(8, symmetric=False)           # affine 8-bit layer inputs


@pytest.fixture(scope='module')
def cifar(tmp_path_factory):
  with tfds.testing.mock_data(num_examples=16):
    ds = data.load('cifar10', str(tmp_path_factory.mktemp('cifar10')))
  return ds.train_images, ds.train_labels


def _qat(model, params, x, y, wspec, rules, steps=2):
  """A few QAT steps: weights and inputs of the chosen layers fake-quantized
  (inputs with each batch's own range, straight-through gradients)."""
  layers = {n: A.LayerQuant(wspec, a)
            for n, a in A.act_specs(params, rules).items()}
  apply = A.fake_quant_apply(model.apply, layers)
  tx = optax.sgd(0.01, momentum=0.9)

  @jax.jit
  def step(params, opt_state):
    def loss_fn(p):
      logits = apply({'params': p}, x, train=True)
      return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
    loss, g = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  opt_state = tx.init(params)
  losses = []
  for _ in range(steps):
    params, opt_state, loss = step(params, opt_state)
    losses.append(float(loss))
  assert np.all(np.isfinite(losses))
  return params, layers


def _integer_equals_fake_quant(model, params, layers, wspec, x):
  """Calibrates, converts, and checks the integer logits bit for bit."""
  v = {'params': params}
  layers = A.calibrate_layers(model.apply, v, x, layers)
  fake = jax.jit(A.fake_quant_apply(model.apply, layers))(v, x)
  specs = A.weight_specs(params, [(f'^({"|".join(layers)})/kernel$', wspec)])
  im = I.convert(model, v, specs, layers)
  out = im(x)
  np.testing.assert_array_equal(np.asarray(out), np.asarray(fake))
  ref = model.apply(v, x)
  assert np.abs(np.asarray(out) - ref).max() < 0.25 * np.abs(ref).max()
  # Every chosen layer runs int8 x int8 -> int32.
  jaxpr = jax.make_jaxpr(im.apply_arrays)(im.arrays(), x)
  ops = [e for e in jaxpr.jaxpr.eqns
         if e.primitive.name in ('dot_general', 'conv_general_dilated')
         and e.outvars[0].aval.dtype == jnp.int32]
  int_ops = [e for e in ops if all(a.aval.dtype == jnp.int8
                                   for a in e.invars)]
  assert len(int_ops) == len(layers)
  return im


@pytest.mark.parametrize('wspec', [INT8, INT4], ids=['int8', 'int4'])
def test_resnet20_conv_qat_integer_model_is_bit_exact(cifar, wspec):
  x, y = cifar
  model = models.get_model('resnet20')
  v = jax.jit(model.init)(jax.random.key(0), x[:1])
  # Integer hardware runs conv + batch norm as one layer: fold it first.
  folded, fv = fold_bn.fold_batch_norm(model, v, x[:1])
  assert not folded.batch_norm and 'stem_bn' not in fv['params']
  np.testing.assert_allclose(folded.apply(fv, x), model.apply(v, x),
                             rtol=1e-4, atol=1e-4)
  convs = r'(stem_conv|stage\d_block\d/conv\d)/kernel$'
  params, layers = _qat(folded, fv['params'], x[:8], y[:8], wspec,
                        [(convs, ACT8)])
  assert len(layers) == 19 and 'head' not in layers
  im = _integer_equals_fake_quant(folded, params, layers, wspec, x)
  q = im.qweights['params/stage3_block3/conv2/kernel']
  assert q.data.dtype == (np.int8 if wspec.bits == 8 else np.uint8)
  assert q.data.size == 3 * 3 * 64 * 64 * wspec.bits // 8


@pytest.mark.parametrize('wspec', [INT8, INT4], ids=['int8', 'int4'])
def test_vit_attention_and_mlp_qat_integer_model_is_bit_exact(cifar, wspec):
  x, y = cifar
  model = models.get_model('vit_tiny')
  v = jax.jit(model.init)(jax.random.key(0), x[:1])
  dense = r'block\d/(attn/(query|key|value|out)|mlp/fc\d)/kernel$'
  params, layers = _qat(model, v['params'], x[:8], y[:8], wspec,
                        [(dense, ACT8)])
  assert sorted(layers) == sorted(
      f'block{i}/{n}' for i in range(1, 5)
      for n in ('attn/query', 'attn/key', 'attn/value', 'attn/out',
                'mlp/fc1', 'mlp/fc2'))
  im = _integer_equals_fake_quant(model, params, layers, wspec, x)
  q = im.qweights['params/block2/mlp/fc1/kernel']
  assert q.data.size == 64 * 128 * wspec.bits // 8


def test_distill_resnet56_into_resnet20(cifar):
  x, y = cifar
  x, y = x[:8], y[:8]
  teacher = models.get_model('resnet56')
  t_vars = jax.jit(teacher.init)(jax.random.key(1), x[:1])
  t_logits = jax.jit(lambda v, x: teacher.apply(v, x, train=False))(t_vars, x)
  student = models.get_model('resnet20')
  s_vars = jax.jit(student.init)(jax.random.key(2), x[:1])
  T, alpha = 4.0, 0.9

  def loss_fn(params, stats):
    logits, new = student.apply({'params': params, 'batch_stats': stats}, x,
                                train=True, mutable=['batch_stats'])
    return (distill.distillation_loss(logits, t_logits, y, T, alpha),
            (logits, new['batch_stats']))

  # The loss is Hinton et al.'s formula on these logits.
  loss0, (logits0, _) = jax.jit(loss_fn)(s_vars['params'],
                                         s_vars['batch_stats'])
  def log_softmax(z):
    z = np.asarray(z, np.float64)
    z = z - z.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))
  log_p, log_q = log_softmax(t_logits / T), log_softmax(logits0 / T)
  kl = np.sum(np.exp(log_p) * (log_p - log_q), axis=1)
  ce = -log_softmax(logits0)[np.arange(8), y]
  want = np.mean(alpha * T**2 * kl + (1 - alpha) * ce)
  assert float(loss0) == pytest.approx(want, rel=1e-4)

  tx = optax.sgd(0.02, momentum=0.9)

  @jax.jit
  def step(params, stats, opt_state):
    (loss, (_, stats)), g = jax.value_and_grad(loss_fn, has_aux=True)(
        params, stats)
    updates, opt_state = tx.update(g, opt_state, params)
    return optax.apply_updates(params, updates), stats, opt_state, loss

  params, stats = s_vars['params'], s_vars['batch_stats']
  opt_state = tx.init(params)
  losses = []
  for _ in range(6):
    params, stats, opt_state, loss = step(params, stats, opt_state)
    losses.append(float(loss))
  assert losses[-1] < 0.5 * losses[0], losses  # the student follows
