"""Where a scanned LeNet-5 train step spends its time on CPU, per XLA op.

  python benchmarks/conv_profile.py [--conv=layers|flax] [--pool=reshape|flax]
      [--kernels=train|default] [--steps=20] [--top=12]
      [--model=lenet5|resnet_small]
  python benchmarks/conv_profile.py --infer=20,50,500 [--batch=1024]

Compiles `--steps` steps of LeNet-5's train step (batch 128, the lenet5
config; --model=resnet_small: the residual net's, structured_resnet_dense)
as one lax.scan, exactly as jaxcompress.train runs an epoch, with
the zoo's convolution (`layers.Conv`) or flax's own `nn.Conv`, the zoo's
pooling (`layers.max_pool_2x2`) or `nn.max_pool`, and jaxcompress.train's
compiler options or XLA's default. Prints

  * every convolution left in the optimized HLO with its dimension numbers
    (``b01f_01io->b01f`` is the canonical NHWC/HWIO form that XLA CPU runs in
    its library kernels, ``ynn_fusion``; anything else inside the loop is
    emitted as XLA's own loop nest, marked by ``outer_dimension_partitions``);
  * a jax.profiler trace of one call, summed per HLO op (ms per step, share,
    what it computes), with XLA CPU's per-thunk trace events on.

With --infer=c1,c2,f1 it profiles instead one forward pass (train=False)
of LeNet5(features=(c1, c2, f1)) at --batch, random weights: the dense model
(20,50,500) against a shrunk one (9,18,25), as structured_latency.py times
them.

BUILD.md ("Convolutions in the scanned epoch on CPU") reads these outputs.
"""

import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'experiments'))
os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '')
                           + ' --xla_cpu_enable_xprof_traceme=true')

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
from absl import app, flags  # noqa: E402
from configs import lenet5, structured_resnet_dense  # noqa: E402

from jaxcompress import data, layers, models, optim, train  # noqa: E402

flags.DEFINE_enum('model', 'lenet5', ['lenet5', 'resnet_small'],
                  'Model whose train step is profiled.')
flags.DEFINE_enum('conv', 'layers', ['layers', 'flax'], 'Convolution layer.')
flags.DEFINE_enum('pool', 'reshape', ['reshape', 'flax'], 'Max pooling.')
flags.DEFINE_enum('kernels', 'train', ['train', 'default'],
                  "XLA options of the train step: jaxcompress.train's "
                  '(layers.train_compiler_options: convolutions in Eigen) or '
                  "XLA's default (convolutions in YNNPACK).")
flags.DEFINE_integer('steps', 20, 'Steps in the scan.')
flags.DEFINE_integer('top', 12, 'HLO ops to list.')
flags.DEFINE_list('infer', [], 'LeNet-5 widths: profile inference instead.')
flags.DEFINE_integer('batch', 1024, 'Batch of --infer.')
FLAGS = flags.FLAGS

_INSTR = re.compile(r'^\s*(?:ROOT )?%([\w.\-]+) = (\([^=]*?\)|\S+) ([a-z][\w-]*)\(')


def _hlo_ops(text):
  """{instruction: (shape, opcode, [opcodes of its fused computation])}."""
  comps, cur = collections.defaultdict(list), None
  for line in text.splitlines():
    m = re.match(r'^(?:ENTRY )?%([\w.\-]+) .*\{$', line)
    if m:
      cur = m.group(1)
    elif cur:
      comps[cur].append(line)
  ops = {}
  for lines in comps.values():
    for line in lines:
      m = _INSTR.match(line)
      if not m:
        continue
      called = re.search(r'calls=%([\w.\-]+)', line)
      inner = []
      for sub in comps.get(called.group(1), []) if called else []:
        s = _INSTR.match(sub)
        if s and s.group(3) not in ('parameter', 'bitcast', 'constant'):
          inner.append(s.group(3))
      ops[m.group(1)] = (m.group(2), m.group(3), list(dict.fromkeys(inner)))
  return ops


def _train_chunk():
  config = {'lenet5': lenet5, 'resnet_small': structured_resnet_dense}[
      FLAGS.model].get_config()
  ds = data.load()
  n = FLAGS.steps * config.batch_size
  arrays = jax.device_put({'image': ds.train_images[:n],
                           'label': ds.train_labels[:n]})
  model = models.get_model(config.model)
  variables = model.init(jax.random.key(0), ds.train_images[:1])
  tx = optim.make_optimizer(config, 1000)
  state = train.create_train_state(variables, tx)
  sharding = jax.sharding.NamedSharding(train.data_mesh(),
                                        jax.sharding.PartitionSpec('data'))
  step = train.make_train_step(model, tx, [], sharding, seed=config.seed)
  return train.make_train_chunk(step, FLAGS.steps, FLAGS.steps,
                                config.batch_size, 0), (state, arrays)


def _inference(widths):
  model = models.get_model('lenet5', features=widths)
  x = jax.random.normal(jax.random.key(1), (FLAGS.batch, 28, 28, 1))
  variables = model.init(jax.random.key(0), x[:1])
  return lambda v, x: model.apply(v, x, train=False), (variables, x)


def main(_):
  if FLAGS.conv == 'flax':
    layers.Conv = nn.Conv  # models.py builds its layers from layers.Conv
  if FLAGS.pool == 'flax':
    layers.max_pool_2x2 = lambda x: nn.max_pool(x, (2, 2), (2, 2))
  if FLAGS.infer:
    fn, args = _inference(tuple(int(w) for w in FLAGS.infer))
  else:
    fn, args = _train_chunk()
  options = (layers.train_compiler_options()
             if FLAGS.kernels == 'train' and not FLAGS.infer else None)
  compiled = jax.jit(fn, compiler_options=options).lower(*args).compile()
  text = compiled.as_text()
  what = (f'LeNet5{tuple(FLAGS.infer)} forward' if FLAGS.infer
          else f'{FLAGS.model} train step')
  print(f'{what}, conv={FLAGS.conv} pool={FLAGS.pool}: convolutions in the '
        'optimized HLO (inside fusions too):')
  for line in text.splitlines():
    if ' convolution(' in line:
      name = _INSTR.match(line).group(1)
      dims = re.search(r'dim_labels=([^,\s]+)', line).group(1)
      window = re.search(r'window=\{([^}]*)\}', line).group(1)
      loops = 'outer_dimension_partitions' in line
      print(f'  {name:28s} {dims:22s} window {window:24s}'
            + ('  <- XLA loop nest' if loops else ''))
  jax.block_until_ready(compiled(*args))
  with tempfile.TemporaryDirectory() as d:
    with jax.profiler.trace(d):
      jax.block_until_ready(compiled(*args))
    (path,) = glob.glob(f'{d}/plugins/profile/*/*.trace.json.gz')
    with gzip.open(path) as f:
      events = json.load(f)['traceEvents']
  ops = _hlo_ops(text)
  total = collections.Counter()
  for e in events:
    if e.get('ph') == 'X' and e['name'] in ops:
      total[e['name']] += e['dur'] / 1e3 / (1 if FLAGS.infer else FLAGS.steps)
  whole = sum(total.values())
  print(f'\nprofile: {whole:.1f} ms per {"call" if FLAGS.infer else "step"} '
        'in HLO ops '
        f'(1-minute load average {os.getloadavg()[0]:.1f})')
  for name, ms in total.most_common(FLAGS.top):
    shape, opcode, inner = ops[name]
    what = '+'.join(inner) if inner else opcode
    print(f'  {ms:7.2f} ms {100 * ms / whole:5.1f}%  {name:26s} '
          f'{shape[:26]:26s} {what[:60]}')
  moved = sum(ms for name, ms in total.items()
              if 'transpose' in ops[name][2] or ops[name][1] == 'transpose')
  print(f'  ops that transpose (alone or fused): {moved:.1f} ms '
        f'({100 * moved / whole:.1f}%)')


if __name__ == '__main__':
  app.run(main)
