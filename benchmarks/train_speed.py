"""Train steps/s (batch 128, SGD momentum, MNIST in memory): jaxcompress's
scanned epoch and per-step loop against PyTorch eager, for LeNet-300-100,
LeNet-5 and the residual net.

  python benchmarks/train_speed.py [--models=lenet5] [--steps=100] \
      [--repeats=3]

One row per model, each with four ways to run the same training step:
  scan    one compiled lax.scan over the steps, batches gathered on the
          device from shuffled indices (what jaxcompress.train does with
          in_memory=True);
  loop    the same jitted train_step called from a Python loop, one batch
          sliced and transferred per step;
  torch   the same network in PyTorch eager (torch.nn, NCHW), with 1 and
          with 2 intra-op threads; the ratio is taken against the faster
          (skipped if torch is absent).
The four take turns, --steps steps each (0: one epoch), for --repeats
rounds after a warm-up round, so load from other processes on a shared
machine hits them alike; each reports its median steps/s. The model and
recipe come from the experiment configs (lenet_300_100, lenet5,
structured_resnet_dense).
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'experiments'))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402
from configs import lenet5, lenet_300_100, structured_resnet_dense  # noqa: E402

from jaxcompress import data, layers, models, optim, timing, train  # noqa: E402

CONFIGS = {'lenet_300_100': lenet_300_100, 'lenet5': lenet5,
           'resnet_small': structured_resnet_dense}

flags.DEFINE_list('models', list(CONFIGS), 'Rows: ' + ', '.join(CONFIGS))
flags.DEFINE_integer('steps', 0, 'Steps per timed run (0: one epoch).')
flags.DEFINE_integer('repeats', 3, 'Timed runs per method (after warm-up).')
FLAGS = flags.FLAGS


def jax_setup(config, ds):
  model = models.get_model(config.model)
  variables = model.init(jax.random.key(0), ds.train_images[:1])
  spe = len(ds.train_labels) // config.batch_size
  tx = optim.make_optimizer(config, spe * 100)
  mesh = train.data_mesh()
  # The state placed as the step returns it (replicated on the mesh): left
  # uncommitted, the second call would compile again, inside a timed run.
  state = jax.device_put(train.create_train_state(variables, tx),
                         jax.sharding.NamedSharding(
                             mesh, jax.sharding.PartitionSpec()))
  sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec('data'))
  step = train.make_train_step(model, tx, [], sharding, seed=config.seed)
  return state, step, spe


def scan_runner(config, ds, steps):
  state, step, spe = jax_setup(config, ds)
  chunk = jax.jit(train.make_train_chunk(step, steps, spe, config.batch_size,
                                         0), donate_argnums=0,
                  compiler_options=layers.train_compiler_options())
  arrays = jax.device_put({'image': ds.train_images, 'label': ds.train_labels})
  box = [state]

  def run():
    box[0], m = chunk(box[0], arrays)
    jax.block_until_ready(m)

  return run


def loop_runner(config, ds, steps):
  state, step, _ = jax_setup(config, ds)
  step = jax.jit(step, donate_argnums=0,
                 compiler_options=layers.train_compiler_options())
  bs = config.batch_size
  rng = np.random.default_rng(0)
  box = [state]

  def run():
    perm = rng.permutation(len(ds.train_labels))
    for i in range(steps):
      idx = perm[i * bs:(i + 1) * bs]
      batch = {'image': ds.train_images[idx], 'label': ds.train_labels[idx]}
      box[0], m = step(box[0], batch)
    jax.block_until_ready(m)

  return run


def torch_net(name, torch):
  """The zoo model `name` in torch.nn (NCHW)."""
  nn = torch.nn
  if name == 'lenet_300_100':
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(),
                         nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
  if name == 'lenet5':
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2),
                         nn.Conv2d(20, 50, 5), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))

  def conv_bn(cin, cout, k, stride):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
            nn.BatchNorm2d(cout)]

  class Block(nn.Module):
    """models.ResidualBlock."""

    def __init__(self, cin, cout, stride):
      super().__init__()
      self.body = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(),
                                *conv_bn(cout, cout, 3, 1))
      self.proj = (nn.Sequential(*conv_bn(cin, cout, 1, stride))
                   if cin != cout or stride != 1 else nn.Identity())

    def forward(self, x):
      return torch.relu(self.proj(x) + self.body(x))

  (w1, w2) = models.ResNetSmall().stage_features
  return nn.Sequential(*conv_bn(1, w1, 3, 1), nn.ReLU(), Block(w1, w1, 1),
                       Block(w1, w2, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                       nn.Linear(w2, 10))


def torch_runner(config, ds, steps, threads):
  try:
    import torch
  except ImportError:
    return None
  torch.manual_seed(0)
  net = torch_net(config.model, torch)
  opt = torch.optim.SGD(net.parameters(), lr=config.learning_rate,
                        momentum=config.momentum,
                        weight_decay=config.weight_decay)
  x = torch.from_numpy(np.ascontiguousarray(
      ds.train_images.transpose(0, 3, 1, 2)))
  y = torch.from_numpy(ds.train_labels.astype(np.int64))
  bs = config.batch_size

  def run():
    torch.set_num_threads(threads)
    perm = torch.randperm(len(y))
    for i in range(steps):
      idx = perm[i * bs:(i + 1) * bs]
      loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
      opt.zero_grad()
      loss.backward()
      opt.step()

  return run


def bench(name, ds):
  config = CONFIGS[name].get_config()
  steps = FLAGS.steps or len(ds.train_labels) // config.batch_size
  runners = {'scanned epoch': scan_runner(config, ds, steps),
             'per-step loop': loop_runner(config, ds, steps),
             'pytorch 1 thread': torch_runner(config, ds, steps, 1),
             'pytorch 2 threads': torch_runner(config, ds, steps, 2)}
  runners = {k: v for k, v in runners.items() if v is not None}
  seconds = timing.interleaved(runners, FLAGS.repeats, warmup=1)
  return config, steps, {k: steps / t for k, t in seconds.items()}


def main(_):
  ds = data.load()
  rows = {name: bench(name, ds) for name in FLAGS.models}
  config = next(iter(rows.values()))[0]
  print(f'device: {jax.devices()[0].device_kind} x {jax.device_count()}, '
        f'{os.cpu_count()} cpus, batch {config.batch_size}; median steps/s '
        f'of {FLAGS.repeats} alternating runs each; 1-minute load average '
        f'{os.getloadavg()[0]:.1f}\n')
  head = ['model', 'steps/run', 'scanned epoch', 'per-step loop',
          'pytorch 1 thread', 'pytorch 2 threads', 'scan/loop', 'scan/torch']
  print('| ' + ' | '.join(head) + ' |')
  print('|' + '---|' * len(head))
  for name, (_, steps, sps) in rows.items():
    torch_best = max((v for k, v in sps.items() if k.startswith('pytorch')),
                     default=None)
    cells = [name, str(steps)]
    cells += [f'{sps[k]:.1f}' if k in sps else '-' for k in head[2:6]]
    cells.append(f"{sps['scanned epoch'] / sps['per-step loop']:.2f}")
    cells.append(f"{sps['scanned epoch'] / torch_best:.2f}" if torch_best
                 else 'torch not installed')
    print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
  app.run(main)
