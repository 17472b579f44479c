"""Per-device memory of the compiled train step, replicated against sharded.

  python benchmarks/memory.py [--model=lenet_300_100] [--devices=1,2,4,8]

For each device count (fake CPU devices, one subprocess each:
XLA_FLAGS=--xla_force_host_platform_device_count=N) the real train step
(jaxcompress.train: momentum SGD, magnitude pruning masks in the optax
state) is compiled with the state replicated and with `shard_params`
(jaxcompress/train/sharding.py), and XLA's memory analysis of the compiled
step gives the bytes per device of its arguments (parameters, optimizer and
compression state, one batch), its outputs and its temporaries. The state's
bytes per device are also counted from the arrays' shards. Sharded state
should fall as 1/N.
"""

import json
import os
import subprocess
import sys

from absl import app, flags

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)

flags.DEFINE_string('model', 'lenet_300_100', 'Zoo model.')
flags.DEFINE_string('devices', '1,2,4,8', 'Device counts.')
flags.DEFINE_integer('batch_size', 128, 'Global batch.')
FLAGS = flags.FLAGS

_CHILD = r'''
import json, sys
sys.path.insert(0, {repo!r})
import jax, numpy as np, optax
from jax.sharding import NamedSharding, PartitionSpec as P
from jaxcompress import models, pruning
from jaxcompress.train import sharding, step
model = models.get_model({model!r})
x = np.zeros(({batch},) + {shape}, np.float32)
variables = model.init(jax.random.key(0), x[:1])
specs = pruning.layer_specs(variables['params'], 0.9)
tx = optax.chain(optax.sgd(0.05, 0.9), pruning.prune(specs))
mesh = step.data_mesh()
data = NamedSharding(mesh, P('data'))
out = {{}}
for shard in (False, True):
  state = step.create_train_state(variables, tx)
  sh = sharding.state_shardings(state, mesh, shard)
  state = jax.device_put(state, sh)
  batch = jax.device_put({{'image': x, 'label': np.zeros({batch}, np.int32)}},
                         data)
  fn = jax.jit(step.make_train_step(model, tx, [], data, seed=0),
               out_shardings=(sh, NamedSharding(mesh, P())))
  mem = fn.lower(state, batch).compile().memory_analysis()
  held = sum(s.data.nbytes for x in jax.tree.leaves(state)
             for s in x.addressable_shards if s.device == jax.devices()[0])
  out['sharded' if shard else 'replicated'] = dict(
      state_bytes=held, argument_bytes=mem.argument_size_in_bytes,
      output_bytes=mem.output_size_in_bytes,
      temp_bytes=mem.temp_size_in_bytes)
print('RESULT', json.dumps(out))
'''


def measure(n: int, model: str, batch: int, shape) -> dict:
  env = dict(os.environ, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={n}')
  code = _CHILD.format(repo=REPO, model=model, batch=batch,
                       shape=tuple(shape))
  out = subprocess.run([sys.executable, '-c', code], env=env,
                       capture_output=True, text=True, check=True)
  line = [s for s in out.stdout.splitlines() if s.startswith('RESULT')][0]
  return json.loads(line.split(' ', 1)[1])


def main(argv):
  del argv
  counts = [int(n) for n in FLAGS.devices.split(',')]
  rows = {n: measure(n, FLAGS.model, FLAGS.batch_size, (28, 28, 1))
          for n in counts}
  print(f'{FLAGS.model}, batch {FLAGS.batch_size}; bytes per device (XLA '
        'memory analysis of the compiled step; state from its shards)\n')
  print('| devices | state replicated | state sharded | sharded / '
        'replicated | step arguments replicated | step arguments sharded | '
        'temporaries sharded |')
  print('|---|---|---|---|---|---|---|')
  for n, r in rows.items():
    rep, sh = r['replicated'], r['sharded']
    print(f"| {n} | {rep['state_bytes']:,} | {sh['state_bytes']:,} | "
          f"{sh['state_bytes'] / rep['state_bytes']:.3f} | "
          f"{rep['argument_bytes']:,} | {sh['argument_bytes']:,} | "
          f"{sh['temp_bytes']:,} |")


if __name__ == '__main__':
  app.run(main)
