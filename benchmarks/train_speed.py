"""Train steps/s of LeNet-300-100 (batch 128): scanned epoch vs per-step loop
vs PyTorch eager.

  python benchmarks/train_speed.py [--epochs=2]

Three ways to run the same SGD-momentum step on MNIST held in memory:
  scan    one compiled lax.scan per epoch over shuffled on-device indices
          (what jaxcompress.train does);
  loop    the same jitted train_step called from a Python loop, one batch
          sliced and transferred per step;
  torch   an equivalent PyTorch eager loop (skipped if torch is absent).
Prints steps/s for each and the ratios, measured in this one run.
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

flags.DEFINE_integer('epochs', 2, 'Timed epochs per method (after warm-up).')
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


def time_scan(config, ds, epochs):
  state, step, spe = jax_setup(config, ds)
  chunk = jax.jit(train.make_train_chunk(step, spe, spe, config.batch_size, 0),
                  donate_argnums=0)
  arrays = jax.device_put({'image': ds.train_images, 'label': ds.train_labels})
  state, m = chunk(state, arrays)  # compile + warm-up epoch
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for _ in range(epochs):
    state, m = chunk(state, arrays)
  jax.block_until_ready(m)
  return epochs * spe / (time.perf_counter() - t0)


def time_loop(config, ds, epochs):
  state, step, spe = jax_setup(config, ds)
  step = jax.jit(step, donate_argnums=0)
  bs = config.batch_size
  rng = np.random.default_rng(0)

  def epoch(state):
    perm = rng.permutation(len(ds.train_labels))
    for i in range(spe):
      idx = perm[i * bs:(i + 1) * bs]
      batch = {'image': ds.train_images[idx], 'label': ds.train_labels[idx]}
      state, m = step(state, batch)
    return state, m

  state, m = epoch(state)
  jax.block_until_ready(m)
  t0 = time.perf_counter()
  for _ in range(epochs):
    state, m = epoch(state)
  jax.block_until_ready(m)
  return epochs * spe / (time.perf_counter() - t0)


def time_torch(config, ds, epochs):
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
    perm = torch.randperm(len(y))
    for i in range(spe):
      idx = perm[i * bs:(i + 1) * bs]
      loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
      opt.zero_grad()
      loss.backward()
      opt.step()

  epoch()
  t0 = time.perf_counter()
  for _ in range(epochs):
    epoch()
  return epochs * spe / (time.perf_counter() - t0)


def main(_):
  config = lenet_300_100.get_config()
  ds = data.load()
  scan = time_scan(config, ds, FLAGS.epochs)
  loop = time_loop(config, ds, FLAGS.epochs)
  torch_sps = time_torch(config, ds, FLAGS.epochs)
  print(f'device: {jax.devices()[0].device_kind} x {jax.device_count()}, '
        f'LeNet-300-100, batch {config.batch_size}, {FLAGS.epochs} epochs each')
  print(f'scanned epoch      {scan:8.0f} steps/s')
  print(f'per-step loop      {loop:8.0f} steps/s   scan/loop  = {scan / loop:.2f}')
  if torch_sps is None:
    print('pytorch eager      skipped (torch not installed)')
  else:
    print(f'pytorch eager      {torch_sps:8.0f} steps/s   scan/torch = '
          f'{scan / torch_sps:.2f}')


if __name__ == '__main__':
  app.run(main)
