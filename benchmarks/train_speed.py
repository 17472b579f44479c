"""Train steps/s of LeNet-300-100 (batch 128): scanned epoch vs per-step loop
vs PyTorch eager.

  python benchmarks/train_speed.py [--epochs=2]

Three ways to run the same SGD-momentum step on MNIST held in memory:
  scan    one compiled lax.scan per epoch over shuffled on-device indices
          (what jaxcompress.train does);
  loop    the same jitted train_step called from a Python loop, one batch
          sliced and transferred per step;
  torch   an equivalent PyTorch eager loop, with 1 and with 2 intra-op
          threads (on a loaded machine one thread is often faster); the
          ratio is taken against the faster (skipped if torch is absent).
Prints steps/s for each and the ratios, measured in this one run. The methods
take turns, one epoch each, for --repeats rounds, and each reports its fastest
epoch, so load from other processes on a shared machine hits them alike.
"""

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'experiments'))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from configs import lenet_300_100  # noqa: E402

from jaxcompress import data, models, optim, train  # noqa: E402

flags.DEFINE_integer('repeats', 3, 'Timed epochs per method (after warm-up).')
FLAGS = flags.FLAGS


def jax_setup(config, ds):
  model = models.get_model(config.model)
  variables = model.init(jax.random.key(0), ds.train_images[:1])
  spe = len(ds.train_labels) // config.batch_size
  tx = optim.make_optimizer(config, spe * 100)
  state = train.create_train_state(config, model, variables, tx)
  mesh = train.data_mesh()
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  step = train.make_train_step(model, tx, [], config, sharding)
  return state, step, spe


def scan_runner(config, ds):
  state, step, spe = jax_setup(config, ds)
  chunk = jax.jit(train.make_train_chunk(step, spe, spe, config.batch_size, 0),
                  donate_argnums=0)
  arrays = jax.device_put({'image': ds.train_images, 'label': ds.train_labels})
  box = [state]

  def epoch():
    box[0], m = chunk(box[0], arrays)
    jax.block_until_ready(m)

  return epoch, spe


def loop_runner(config, ds):
  state, step, spe = jax_setup(config, ds)
  step = jax.jit(step, donate_argnums=0)
  bs = config.batch_size
  rng = np.random.default_rng(0)
  box = [state]

  def epoch():
    perm = rng.permutation(len(ds.train_labels))
    for i in range(spe):
      idx = perm[i * bs:(i + 1) * bs]
      batch = {'image': ds.train_images[idx], 'label': ds.train_labels[idx]}
      box[0], m = step(box[0], batch)
    jax.block_until_ready(m)

  return epoch, spe


def torch_runner(config, ds, threads):
  try:
    import torch
  except ImportError:
    return None
  torch.manual_seed(0)
  net = torch.nn.Sequential(
      torch.nn.Flatten(), torch.nn.Linear(784, 300), torch.nn.ReLU(),
      torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
  opt = torch.optim.SGD(net.parameters(), lr=config.learning_rate,
                        momentum=config.momentum,
                        weight_decay=config.weight_decay)
  x = torch.from_numpy(ds.train_images)
  y = torch.from_numpy(ds.train_labels.astype(np.int64))
  bs, spe = config.batch_size, len(ds.train_labels) // config.batch_size

  def epoch():
    torch.set_num_threads(threads)
    perm = torch.randperm(len(y))
    for i in range(spe):
      idx = perm[i * bs:(i + 1) * bs]
      loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
      opt.zero_grad()
      loss.backward()
      opt.step()

  return epoch, spe


def main(_):
  config = lenet_300_100.get_config()
  ds = data.load()
  runners = {'scanned epoch': scan_runner(config, ds),
             'per-step loop': loop_runner(config, ds),
             'pytorch 1 thread': torch_runner(config, ds, 1),
             'pytorch 2 threads': torch_runner(config, ds, 2)}
  runners = {k: v for k, v in runners.items() if v is not None}
  for epoch, _ in runners.values():
    epoch()  # compile and warm up
  best = {k: float('inf') for k in runners}
  for _ in range(FLAGS.repeats):
    for name, (epoch, _) in runners.items():
      t0 = time.perf_counter()
      epoch()
      best[name] = min(best[name], time.perf_counter() - t0)
  sps = {k: runners[k][1] / best[k] for k in runners}
  print(f'device: {jax.devices()[0].device_kind} x {jax.device_count()}, '
        f'LeNet-300-100, batch {config.batch_size}, best of {FLAGS.repeats} '
        'epochs each')
  for name, v in sps.items():
    print(f'{name:16s} {v:8.0f} steps/s')
  print(f'scan/loop  = {sps["scanned epoch"] / sps["per-step loop"]:.2f}')
  torch_sps = [v for k, v in sps.items() if k.startswith('pytorch')]
  if torch_sps:  # against PyTorch's faster thread setting
    print(f'scan/torch = {sps["scanned epoch"] / max(torch_sps):.2f}')
  else:
    print('pytorch eager skipped (torch not installed)')


if __name__ == '__main__':
  app.run(main)
