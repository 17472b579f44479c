"""LeNet-5's train-step kernels one by one: XLA:CPU (as the train step
compiles them) against PyTorch eager (oneDNN), same shapes, in one run.

  python benchmarks/conv_kernels.py [--repeats=30] [--threads=2]

Issue 17 asks why LeNet-5's scanned epoch trains slower than PyTorch eager
on this CPU. `train_speed.py` times whole steps; this script times each
kernel of a step alone at batch 128, so that the gap can be put on the
kernels (or not):

  conv1 fwd, conv1 dW      (128, 28, 28, 1) * (5, 5, 1, 20), VALID
  conv2 fwd, dW, dX        (128, 12, 12, 20) * (5, 5, 20, 50), VALID
  pool1 fwd+bwd, pool2 fwd+bwd   2x2 max pooling and its gradient
  fc1 fwd, dW, dX          (128, 800) @ (800, 500)

JAX: each kernel is a `jax.jit` of `jaxcompress.layers`' convolution (its
forward pass, or one of its two CPU gradients via `jax.vjp`), pooling
(`layers.max_pool_2x2`) or a matmul, compiled with the train step's
options (`layers.train_compiler_options()`: convolutions in Eigen). Torch:
`torch.nn.functional` (NCHW, as `train_speed.py`'s torch model) and
`torch.ops.aten.convolution_backward` for one gradient at a time, with
--threads intra-op threads. Both take turns (`jaxcompress.timing.
interleaved`), outputs waited for; each prints its median ms, the ratio
jax/torch, and GFLOP/s. A jitted call also pays its dispatch (about 0.01
ms), which the scanned epoch does not.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from jaxcompress import layers, timing  # noqa: E402

flags.DEFINE_integer('repeats', 30, 'Timed rounds (each: a block of calls '
                     'of every kernel).')
flags.DEFINE_integer('threads', 2, 'PyTorch intra-op threads.')
FLAGS = flags.FLAGS

B = 128
DN = ('NHWC', 'HWIO', 'NHWC')


def _conv(x, k):
  return layers.conv_general_dilated(x, k, (1, 1), 'VALID',
                                     dimension_numbers=DN)


def jax_kernels(rng):
  """{name: (zero-argument call, FLOPs)} of the JAX side."""
  jit = lambda f: jax.jit(f, compiler_options=layers.train_compiler_options())
  out = {}
  for name, xs, ks in (('conv1', (B, 28, 28, 1), (5, 5, 1, 20)),
                       ('conv2', (B, 12, 12, 20), (5, 5, 20, 50))):
    x = jnp.asarray(rng.standard_normal(xs, np.float32))
    k = jnp.asarray(rng.standard_normal(ks, np.float32) * 0.1)
    y = _conv(x, k)
    g = jnp.asarray(rng.standard_normal(y.shape, np.float32))
    flops = 2.0 * np.prod(y.shape) * np.prod(ks[:3])
    fwd = jit(_conv)
    dk = jit(lambda x, k, g: jax.vjp(lambda k: _conv(x, k), k)[1](g)[0])
    dx = jit(lambda x, k, g: jax.vjp(lambda x: _conv(x, k), x)[1](g)[0])
    out[f'{name} fwd'] = (lambda f=fwd, x=x, k=k: f(x, k), flops)
    out[f'{name} dW'] = (lambda f=dk, x=x, k=k, g=g: f(x, k, g), flops)
    if name == 'conv2':
      out[f'{name} dX'] = (lambda f=dx, x=x, k=k, g=g: f(x, k, g), flops)
  for name, shape in (('pool1', (B, 24, 24, 20)), ('pool2', (B, 8, 8, 50))):
    x = jnp.asarray(rng.standard_normal(shape, np.float32))
    g = jnp.asarray(rng.standard_normal(
        (B, shape[1] // 2, shape[2] // 2, shape[3]), np.float32))
    f = jit(lambda x, g: jax.vjp(layers.max_pool_2x2, x)[1](g)[0])
    out[f'{name} fwd+bwd'] = (lambda f=f, x=x, g=g: f(x, g), 0.0)
  a = jnp.asarray(rng.standard_normal((B, 800), np.float32))
  w = jnp.asarray(rng.standard_normal((800, 500), np.float32))
  g = jnp.asarray(rng.standard_normal((B, 500), np.float32))
  mm = 2.0 * B * 800 * 500
  out['fc1 fwd'] = (lambda f=jit(lambda a, w: a @ w): f(a, w), mm)
  out['fc1 dW'] = (lambda f=jit(lambda a, g: a.T @ g): f(a, g), mm)
  out['fc1 dX'] = (lambda f=jit(lambda g, w: g @ w.T): f(g, w), mm)
  return out


def torch_kernels(rng, torch):
  """The same kernels in PyTorch (NCHW)."""
  F = torch.nn.functional
  t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
  out = {}
  for name, xs, ks in (('conv1', (B, 1, 28, 28), (20, 1, 5, 5)),
                       ('conv2', (B, 20, 12, 12), (50, 20, 5, 5))):
    x = t(rng.standard_normal(xs, np.float32))
    k = t(rng.standard_normal(ks, np.float32) * 0.1)
    y = F.conv2d(x, k)
    g = t(rng.standard_normal(tuple(y.shape), np.float32))

    def grads(mask, x=x, k=k, g=g):
      return torch.ops.aten.convolution_backward(
          g, x, k, None, (1, 1), (0, 0), (1, 1), False, (0, 0), 1, mask)

    out[f'{name} fwd'] = lambda x=x, k=k: F.conv2d(x, k)
    out[f'{name} dW'] = lambda grads=grads: grads([False, True, False])[1]
    if name == 'conv2':
      out[f'{name} dX'] = lambda grads=grads: grads([True, False, False])[0]
  for name, shape in (('pool1', (B, 20, 24, 24)), ('pool2', (B, 50, 8, 8))):
    x = t(rng.standard_normal(shape, np.float32)).requires_grad_()
    g = t(rng.standard_normal(
        (B, shape[1], shape[2] // 2, shape[3] // 2), np.float32))

    def pool(x=x, g=g):
      return torch.autograd.grad(F.max_pool2d(x, 2), x, g)[0]

    out[f'{name} fwd+bwd'] = pool
  a = t(rng.standard_normal((B, 800), np.float32))
  w = t(rng.standard_normal((800, 500), np.float32))
  g = t(rng.standard_normal((B, 500), np.float32))
  out['fc1 fwd'] = lambda: a @ w
  out['fc1 dW'] = lambda: a.T @ g
  out['fc1 dX'] = lambda: g @ w.T
  return out


def main(argv):
  del argv
  import torch
  torch.set_num_threads(FLAGS.threads)
  rng = np.random.default_rng(0)
  jx = jax_kernels(rng)
  th = torch_kernels(rng, torch)
  fns = {**{f'jax {k}': f for k, (f, _) in jx.items()},
         **{f'torch {k}': f for k, f in th.items()}}
  ms = timing.ms(timing.interleaved(fns, FLAGS.repeats, warmup=3, block=5))
  print(f'jax {jax.__version__} ({jax.default_backend()}), torch '
        f'{torch.__version__} ({FLAGS.threads} threads), batch {B}; '
        f'medians of {FLAGS.repeats} rounds x 5 calls')
  print('| kernel | jax ms | torch ms | jax/torch | jax GFLOP/s | '
        'torch GFLOP/s |')
  print('|---|---|---|---|---|---|')
  total = {'jax': 0.0, 'torch': 0.0}
  for k, (_, flops) in jx.items():
    a, b = ms[f'jax {k}'], ms[f'torch {k}']
    total['jax'] += a
    total['torch'] += b
    rate = (lambda t: f'{flops / t / 1e6:.0f}') if flops else (lambda t: '-')
    print(f'| {k} | {a:.3f} | {b:.3f} | {a / b:.2f} | {rate(a)} | '
          f'{rate(b)} |')
  print(f"| sum | {total['jax']:.3f} | {total['torch']:.3f} | "
        f"{total['jax'] / total['torch']:.2f} | | |")


if __name__ == '__main__':
  app.run(main)
