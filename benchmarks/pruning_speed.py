"""Cost of pruning in the train step: mask updates and masked steps.

  python benchmarks/pruning_speed.py

For LeNet-300-100 (batch 128) and one 4096x4096 Dense layer (batch 128)
prints, on this machine's CPU:

* mask update / train step: the time of one mask recomputation (magnitude
  scores, exact per-layer counts at 90% sparsity, radix selection, no sort)
  over the time of one dense train step (forward, backward, momentum SGD,
  apply_updates). Target <= 1 on LeNet-300-100.
* masked step / dense step: a train step with `prune` in the chain (masks
  applied, schedule checked under lax.cond, no mask update at that step)
  over the same step without it. Target <= 1.05.

Timings are medians over interleaved repeats of compiled calls (block until
ready); the machine is shared, so they move by some percent between runs.
Also printed for reference: a full sort of the same scores.
"""

import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from jaxcompress import models, pruning, timing  # noqa: E402


def _bench(fns, repeats=30, inner=5):
  """Median seconds per call of each fn, interleaved to share the noise."""
  t = timing.interleaved(dict(enumerate(fns)), repeats, warmup=1, inner=inner)
  return [t[i] for i in range(len(fns))]


def case(name, model, x, y, repeats, inner):
  params = model.init(jax.random.key(0), x)['params']
  specs = pruning.layer_specs(params, 0.9)

  def loss(p):
    logits = model.apply({'params': p}, x)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

  def make_step(tx):
    @jax.jit
    def step(p, s):
      g = jax.grad(loss)(p)
      u, s = tx.update(g, s, p)
      return optax.apply_updates(p, u), s
    return step

  opt = optax.sgd(0.01, momentum=0.9)
  # No mask update during the timed steps: the one-shot step is far away.
  masked = optax.chain(opt, pruning.prune(
      specs, schedule=pruning.OneShot(10 ** 9)))
  dense_step, masked_step = make_step(opt), make_step(masked)
  ds, ms = opt.init(params), masked.init(params)

  score = pruning.magnitude()
  masks0 = pruning.find_state(ms).masks
  update_masks = jax.jit(lambda p, m: pruning.compute_masks(
      specs, score.compute((), p, p, None), p, m, jnp.float32(1.0)))
  flat = jnp.concatenate([jnp.abs(w).reshape(-1)
                          for w in jax.tree.leaves(params)])
  sort = jax.jit(jnp.sort)

  t_dense, t_masked, t_mask, t_sort = _bench([
      lambda: dense_step(params, ds), lambda: masked_step(params, ms),
      lambda: update_masks(params, masks0), lambda: sort(flat)], repeats,
      inner)
  print(f'{name}: dense step {1e3 * t_dense:.2f} ms, masked step '
        f'{1e3 * t_masked:.2f} ms, mask update {1e3 * t_mask:.2f} ms '
        f'(full sort {1e3 * t_sort:.2f} ms)')
  print(f'  mask update / train step = {t_mask / t_dense:.2f}   '
        f'masked step / dense step = {t_masked / t_dense:.3f}')
  return t_mask / t_dense, t_masked / t_dense


class Wide(nn.Module):
  @nn.compact
  def __call__(self, x):
    return nn.Dense(4096, name='fc')(x)


def main():
  print(f'devices: {jax.devices()}')
  x = jax.random.normal(jax.random.key(1), (128, 28, 28, 1))
  y = jax.random.randint(jax.random.key(2), (128,), 0, 10)
  case('LeNet-300-100, batch 128', models.get_model('lenet_300_100'), x, y,
       repeats=30, inner=5)
  x = jax.random.normal(jax.random.key(1), (128, 4096))
  y = jax.random.randint(jax.random.key(2), (128,), 0, 4096)
  case('Dense 4096x4096, batch 128', Wide(), x, y, repeats=3, inner=1)


if __name__ == '__main__':
  main()
