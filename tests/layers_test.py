"""layers.Conv against flax.linen.Conv; max_pool_2x2 against nn.max_pool."""

import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcompress import layers

# (input shape, Conv attributes): LeNet-5's and the residual net's
# convolutions, and the paths less travelled (explicit and uneven padding,
# dilation, odd sizes with strides, 1-D, a grouped convolution that goes to
# lax unchanged).
CASES = [
    ((3, 28, 28, 1), dict(features=20, kernel_size=(5, 5), padding='VALID')),
    ((3, 12, 12, 20), dict(features=50, kernel_size=(5, 5), padding='VALID')),
    ((3, 28, 28, 16), dict(features=16, kernel_size=(3, 3), use_bias=False)),
    ((3, 28, 28, 16), dict(features=32, kernel_size=(3, 3), strides=2,
                           use_bias=False)),
    ((3, 28, 28, 16), dict(features=32, kernel_size=(1, 1), strides=2)),
    ((2, 15, 17, 3), dict(features=8, kernel_size=(3, 2), strides=(2, 3),
                          padding=((1, 2), (0, 1)), kernel_dilation=(2, 1))),
    ((2, 28, 28, 3), dict(features=4, kernel_size=(3, 3), strides=2,
                          padding='VALID')),
    ((2, 9, 9, 2), dict(features=5, kernel_size=(4, 4), padding='SAME')),
    ((2, 20, 6), dict(features=7, kernel_size=(3,), strides=2)),
    ((2, 10, 10, 4), dict(features=6, kernel_size=(3, 3),
                          feature_group_count=2)),
    # LeNet-5 shrunk to 9-18-25 by structured pruning.
    ((3, 28, 28, 1), dict(features=9, kernel_size=(5, 5), padding='VALID')),
    ((3, 12, 12, 9), dict(features=18, kernel_size=(5, 5), padding='VALID')),
]


def _setup(shape, attrs, seed=0):
  ref = nn.Conv(**attrs)
  ours = layers.Conv(**attrs)
  x = jax.random.normal(jax.random.key(seed), shape)
  variables = ref.init(jax.random.key(seed + 1), x)
  if 'bias' in variables['params']:  # a nonzero bias, so it is checked
    variables = jax.tree.map(lambda p: p + 0.1, variables)
  return ref, ours, x, variables


def _loss(module):
  def loss(variables, x):
    y = module.apply(variables, x)
    return jnp.sum(jnp.sin(y) * jnp.arange(y.size).reshape(y.shape) / y.size)
  return loss


@pytest.mark.parametrize('shape,attrs', CASES)
def test_outputs_and_gradients_equal_nn_conv(shape, attrs):
  ref, ours, x, variables = _setup(shape, attrs)
  assert isinstance(ours, nn.Conv)
  assert (jax.tree.map(jnp.shape, ours.init(jax.random.key(1), x))
          == jax.tree.map(jnp.shape, variables))
  np.testing.assert_allclose(jax.jit(ours.apply)(variables, x),
                             jax.jit(ref.apply)(variables, x),
                             rtol=1e-5, atol=1e-5)
  grad = lambda m: jax.jit(jax.grad(_loss(m), argnums=(0, 1)))(variables, x)
  for got, want in zip(jax.tree.leaves(grad(ours)), jax.tree.leaves(grad(ref))):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('shape,attrs', CASES[1:4])
def test_gradients_equal_inside_scan(shape, attrs):
  ref, ours, x, variables = _setup(shape, attrs)

  def scanned(module):
    grad = jax.grad(_loss(module), argnums=(0, 1))

    def body(c, i):
      return c, grad(variables, x * (1.0 + 0.5 * i))
    return jax.jit(lambda: jax.lax.scan(body, 0, jnp.arange(2.0))[1])()

  # Inside the loop nn.Conv's gradients run XLA's naive convolution loops,
  # which sum in another order than a library kernel: entries that cancel
  # (0.07 out of terms of size 10) differ in float32 rounding. They agree
  # to 1e-5 of each gradient's largest entry.
  for got, want in zip(jax.tree.leaves(scanned(ours)),
                       jax.tree.leaves(scanned(ref))):
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))


def _primitives(jaxpr):
  names = []
  for eqn in jaxpr.eqns:
    names.append(eqn.primitive.name)
    for v in eqn.params.values():
      if isinstance(v, jax.extend.core.ClosedJaxpr):
        names += _primitives(v.jaxpr)
  return names


def test_traced_forward_is_one_convolution():
  _, ours, x, variables = _setup(*CASES[1])
  names = _primitives(jax.make_jaxpr(ours.apply)(variables, x).jaxpr)
  assert names.count('conv_general_dilated') == 1
  assert 'dot_general' not in names


def _conv_dims(text):
  """Dimension numbers of every convolution in StableHLO text."""
  return sorted(re.findall(r'dim_numbers = (\[[^\]]*\]x\[[^\]]*\]->\[[^\]]*\])',
                           text))


def _grad_in_scan_module(module, variables, x, platform):
  grad = jax.grad(_loss(module))

  def f(variables, x):
    return jax.lax.scan(lambda c, _: (c, grad(variables, x)), 0, None,
                        length=2)[1]

  exported = jax.export.export(jax.jit(f), platforms=[platform])(variables, x)
  return exported.mlir_module()


CANONICAL = '[b, 0, 1, f]x[0, 1, i, o]->[b, 0, 1, f]'


@pytest.mark.parametrize('shape,attrs', CASES[1:4])
def test_cpu_gradients_are_canonical_convolutions(shape, attrs):
  # XLA CPU runs only NHWC/HWIO/NHWC convolutions in its library kernels when
  # they sit inside a loop (BUILD.md); nn.Conv's gradients are not of that
  # form, ours are.
  ref, ours, x, variables = _setup(shape, attrs)
  dims = _conv_dims(_grad_in_scan_module(ours, variables, x, 'cpu'))
  assert dims and all(d == CANONICAL for d in dims), dims
  ref_dims = _conv_dims(_grad_in_scan_module(ref, variables, x, 'cpu'))
  assert any(d != CANONICAL for d in ref_dims), ref_dims


@pytest.mark.parametrize('platform', ['cuda', 'tpu'])
def test_other_platforms_keep_xla_gradients(platform):
  ref, ours, x, variables = _setup(*CASES[1])
  assert (_conv_dims(_grad_in_scan_module(ours, variables, x, platform))
          == _conv_dims(_grad_in_scan_module(ref, variables, x, platform)))


def test_max_pool_2x2_matches_nn_max_pool():
  x = jax.random.normal(jax.random.key(0), (2, 8, 6, 3))
  pool = lambda x: nn.max_pool(x, (2, 2), (2, 2))
  np.testing.assert_array_equal(layers.max_pool_2x2(x), pool(x))
  cot = jax.random.normal(jax.random.key(1), (2, 4, 3, 3))
  grad = lambda f: jax.vjp(f, x)[1](cot)[0]
  np.testing.assert_array_equal(grad(layers.max_pool_2x2), grad(pool))
  odd = x[:, :7, :5]
  np.testing.assert_array_equal(layers.max_pool_2x2(odd), pool(odd))


def test_max_pool_2x2_forward_is_reduce_window_gradient_shares_ties():
  """The forward pass is XLA's reduce_window (LiteRT's MAX_POOL_2D when
  exported); the gradient is JAX's own of a reshape-and-max, bit for bit,
  ties shared (small integers: most windows hold tied maxima)."""
  x = jax.random.randint(jax.random.key(0), (2, 8, 6, 3), 0, 3).astype(
      jnp.float32)
  reshape_max = lambda x: x.reshape(2, 4, 2, 3, 2, 3).max(axis=(2, 4))
  assert 'reduce_window_max' in str(jax.make_jaxpr(layers.max_pool_2x2)(x))
  cot = jax.random.normal(jax.random.key(1), (2, 4, 3, 3))
  grad = lambda f: jax.vjp(f, x)[1](cot)[0]
  got, want = grad(layers.max_pool_2x2), grad(reshape_max)
  np.testing.assert_array_equal(got, want)
  windows = np.asarray(got).reshape(2, 4, 2, 3, 2, 3)
  assert np.max(np.sum(windows != 0, axis=(2, 4))) >= 2   # ties were shared
  np.testing.assert_allclose(windows.sum(axis=(2, 4)), cot, rtol=1e-6)


def test_lenet5_trains_bit_for_bit_as_with_reshape_and_max_pooling(
    monkeypatch):
  """Scanned SGD steps of LeNet-5 under the train options: the reduce-window
  pooling gives the parameters the reshape-and-max pooling gave."""
  import optax

  from jaxcompress import models
  model = models.LeNet5(features=(6, 8, 16))
  x = jax.random.normal(jax.random.key(0), (4, 16, 28, 28, 1))
  y = jax.random.randint(jax.random.key(1), (4, 16), 0, 10)
  params = model.init(jax.random.key(2), x[0, :1])['params']
  tx = optax.sgd(0.1, 0.9)

  def train():
    def step(carry, batch):
      p, o = carry
      loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(
          model.apply({'params': p}, batch[0]), batch[1]).mean()
      u, o = tx.update(jax.grad(loss)(p), o, p)
      return (optax.apply_updates(p, u), o), None
    run = jax.jit(lambda c: jax.lax.scan(step, c, (x, y))[0][0],
                  compiler_options=layers.train_compiler_options())
    return run((params, tx.init(params)))

  got = train()
  monkeypatch.setattr(layers, 'max_pool_2x2', lambda v: v.reshape(
      v.shape[0], v.shape[1] // 2, 2, v.shape[2] // 2, 2, v.shape[3]).max(
          axis=(2, 4)))
  want = train()
  jax.tree.map(np.testing.assert_array_equal, got, want)
  assert not np.array_equal(got['conv1']['kernel'], params['conv1']['kernel'])


def _ynn_ops(text):
  """Opcodes inside the computations XLA:CPU hands to YNNPACK."""
  comps, cur = {}, None
  for line in text.splitlines():
    m = re.match(r'^(?:ENTRY )?%([\w.\-]+) .*\{$', line)
    if m:
      cur = comps.setdefault(m.group(1), [])
    elif cur is not None:
      cur.append(line)
  called = re.findall(r'calls=%([\w.\-]+).*"kind":"__ynn_fusion"', text)
  return {op for c in called for line in comps[c]
          for op in re.findall(r' ([a-z][\w-]*)\(', line)}


def _scanned_grad_hlo(module, variables, x, options):
  grad = jax.grad(_loss(module))
  f = lambda v, x: jax.lax.scan(lambda c, _: (c, grad(v, x)), 0, None,
                                length=2)[1]
  return jax.jit(f, compiler_options=options).lower(variables, x).compile(
      ).as_text()


def test_train_compiler_options_run_convolutions_outside_ynnpack():
  _, ours, x, variables = _setup(*CASES[1])
  options = layers.train_compiler_options()
  assert options  # the tests run on CPU
  assert 'convolution' in _ynn_ops(_scanned_grad_hlo(ours, variables, x, None))
  hlo = _scanned_grad_hlo(ours, variables, x, options)
  assert 'convolution' not in _ynn_ops(hlo)
  assert hlo.count(' convolution(') >= 2  # the forward and kernel gradient

  # Gradients equal nn.Conv's compiled with the same options to 1e-5. (Eigen
  # and YNNPACK round differently, about 1.5e-5 apart on this case's largest
  # entries; which is the closer to float64 depends on the machine: Eigen's
  # blocking follows the CPU's cache sizes. BUILD.md.)
  ref = nn.Conv(**CASES[1][1])
  grad = lambda m, o, v, x: jax.jit(jax.grad(_loss(m), argnums=(0, 1)),
                                    compiler_options=o)(v, x)
  ours_g = jax.tree.leaves(grad(ours, options, variables, x))
  for got, want in zip(ours_g, jax.tree.leaves(grad(ref, options, variables,
                                                    x))):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_train_compiler_options_leave_models_without_convolutions_alone():
  mlp = nn.Sequential([nn.Dense(32), nn.relu, nn.Dense(10)])
  x = jax.random.normal(jax.random.key(0), (16, 64))
  variables = mlp.init(jax.random.key(1), x)
  # The same computations, up to instruction numbering and source locations.
  def strip(text):
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('%'))
    body = '\n'.join(lines[start:])
    assert body.count('\n') > 20
    return re.sub(r'\.\d+|, metadata=\{[^}]*\}', '', body)

  default = _scanned_grad_hlo(mlp, variables, x, None)
  assert 'dot' in _ynn_ops(default)
  assert strip(_scanned_grad_hlo(mlp, variables, x,
                                 layers.train_compiler_options())) == strip(
                                     default)
