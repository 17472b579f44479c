"""Data-parallel scaling of the ResNet-50 train step, on paper.

  python benchmarks/scaling.py [--device_counts=8,16,64] [--per_device_batch=32]

PROJECTIONS, NOT MEASUREMENTS. Nothing here runs on a GPU or TPU. For each
device count N (fake CPU devices, one subprocess each:
XLA_FLAGS=--xla_force_host_platform_device_count=N) the real train step
(jaxcompress.train: ResNet-50 at ImageNet shapes 224x224x3, 1000 classes,
momentum SGD from `optim.make_optimizer` with the default RunSettings) is
lowered and compiled, never run, data-parallel over the 'data' mesh axis
with a global batch of N x per_device_batch, once with the state replicated
and once sharded (`shard_params`, jaxcompress/train/sharding.py). From the
compiled per-device program we read:

  * FLOPs per device: `compiled.cost_analysis()['flops']`, counted as
    compiled, i.e. a float32 step (no bf16 casts);
  * collectives per step: every all-reduce, all-gather, reduce-scatter,
    all-to-all and collective-permute in `compiled.as_text()`, with the
    bytes of its full buffer (the larger of its operands and results:
    shapes x dtype size). The CPU compiler emits them synchronously; the
    parser refuses async `-start` forms rather than guess (its check:
    tests/scaling_test.py).

Step time per chip = compute + communication (no overlap), and
max(compute, communication) (perfect overlap), where compute = FLOPs /
(peak x --utilization) and communication uses the ring cost model with B the
buffer bytes and bw the per-chip egress bandwidth: all-reduce 2(N-1)/N B/bw;
all-gather, reduce-scatter, all-to-all (N-1)/N B/bw; collective-permute B/bw.
Ignored: per-collective latency (the step has ~100 collectives, most of them
batch-norm statistics), topology beyond a ring, XLA GPU/TPU passes that
differ from the CPU compiler's (combining, async overlap), input pipeline,
memory bandwidth (ResNet-50's batch-norm and elementwise ops are
memory-bound: 40% of the bf16 peak is likely optimistic; see --utilization).
With sharded state the CPU compiler all-reduces each full gradient and
then slices it; XLA's GPU and TPU pipelines can rewrite that pattern as a
reduce-scatter (half the ring bytes), so sharded communication here is an
upper bound.

Chip assumptions (--chips overrides them; bw = half the bidirectional
figure). The peak is the bf16 dense peak although the step compiles in
float32: H100 float32 would run on TF32 tensor cores at ~495 TFLOP/s dense,
so halve its peak for a float32 projection.
  * H100 SXM: 989 TFLOP/s bf16 dense; NVLink 4, 900 GB/s bidirectional
    = 450 GB/s per direction
    (https://glennklockwood.com/garden/processors/h100; 450 GB/s
    unidirectional theoretical, https://github.com/NVIDIA/nccl/issues/1264).
    NVLink spans one 8-GPU node; beyond 8 GPUs (without an NVLink Switch
    System) the ring crosses InfiniBand, assumed one 400 Gb/s NIC per GPU
    = 50 GB/s per direction.
  * TPU v5e: 197 TFLOP/s bf16; ICI 400 GB/s bidirectional per chip over
    4 ports, 2D torus, 256-chip pod (https://docs.cloud.google.com/tpu/docs/v5e).
Results: docs/scaling.md.
"""

import json
import os
import re
import subprocess
import sys
import time

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string('device_counts', '8,16,64', 'Fake CPU device counts.')
flags.DEFINE_integer('per_device_batch', 32, 'Images per device per step.')
flags.DEFINE_float('utilization', 0.4, 'Assumed fraction of peak FLOP/s.')
flags.DEFINE_string(
    'chips', 'H100 SXM NVLink=989:450,H100 SXM IB 400G=989:50,'
    'TPU v5e ICI=197:200',
    'name=peak TFLOP/s:per-chip egress GB/s, comma separated.')
flags.DEFINE_integer('child', 0, 'Internal: compile on this many devices.')
FLAGS = flags.FLAGS

KINDS = ('all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all',
         'collective-permute')
# Bytes each device sends per buffer byte, ring algorithms on n devices.
ring_factor = lambda kind, n: {'all-reduce': 2 * (n - 1) / n,
                               'collective-permute': 1.0}.get(kind, (n - 1) / n)
DTYPE_BYTES = {'pred': 1, 's8': 1, 'u8': 1, 'f8e4m3fn': 1, 'f8e5m2': 1,
               's16': 2, 'u16': 2, 'f16': 2, 'bf16': 2, 's32': 4, 'u32': 4,
               'f32': 4, 's64': 8, 'u64': 8, 'f64': 8, 'c64': 8, 'c128': 16}
_SHAPE = re.compile(r'\b([a-z][a-z0-9]*)\[([\d,]*)\]')
_INSTR = re.compile(r'^\s*(?:ROOT )?%?([\w.\-]+) = (.*?) ([a-z][\w\-]*)\((.*?)\)')


def shape_bytes(text: str) -> int:
  """Bytes of every array shape in `text` ('(f32[2,3]{1,0}, s32[])' -> 28)."""
  total = 0
  for dtype, dims in _SHAPE.findall(text):
    size = DTYPE_BYTES[dtype]
    for d in filter(None, dims.split(',')):
      size *= int(d)
    total += size
  return total


def collectives(hlo: str) -> dict:
  """{kind: [count, bytes]} over the collectives of an HLO module's text;
  bytes of each op is the larger of its results and its operands (the
  operands' shapes are looked up by instruction name)."""
  shapes, ops = {}, []
  for line in hlo.splitlines():
    m = _INSTR.match(line)
    if not m:
      continue
    name, result, op, args = m.groups()
    shapes[name] = result
    if op.endswith('-start') and op[:-len('-start')] in KINDS:
      raise ValueError(f'async collective not supported: {line.strip()}')
    if op in KINDS:
      ops.append((op, result, re.findall(r'%([\w.\-]+)', args)))
  out = {k: [0, 0] for k in KINDS}
  for op, result, operands in ops:
    operand_bytes = sum(shape_bytes(shapes.get(a, '')) for a in operands)
    out[op][0] += 1
    out[op][1] += max(shape_bytes(result), operand_bytes)
  return out


def compile_step(per_device_batch: int) -> dict:
  """In a process with N devices: FLOPs and collectives of the compiled step,
  replicated and sharded."""
  sys.path.insert(0, REPO)
  import jax
  import jax.numpy as jnp
  from jax.sharding import NamedSharding
  from jax.sharding import PartitionSpec as P

  from jaxcompress import models, optim
  from jaxcompress.plugins.settings import RunSettings
  from jaxcompress.train import sharding, step
  model = models.get_model('resnet50')  # num_classes=1000
  tx = optim.make_optimizer(RunSettings(model='resnet50'), num_steps=1000)
  batch = jax.device_count() * per_device_batch
  variables = jax.eval_shape(model.init, jax.random.key(0),
                             jnp.zeros((1, 224, 224, 3)))
  state = jax.eval_shape(lambda v: step.create_train_state(v, tx), variables)
  mesh = step.data_mesh()
  data = NamedSharding(mesh, P('data'))
  # The batch is mock zeros: only its shapes matter, nothing runs.
  images = jax.ShapeDtypeStruct((batch, 224, 224, 3), jnp.float32,
                                sharding=data)
  labels = jax.ShapeDtypeStruct((batch,), jnp.int32, sharding=data)
  out = {}
  for shard in (False, True):
    start = time.time()
    sh = sharding.state_shardings(state, mesh, shard)
    abstract = jax.tree.map(
        lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s),
        state, sh)
    fn = jax.jit(step.make_train_step(model, tx, [], data, seed=0),
                 out_shardings=(sh, NamedSharding(mesh, P())))
    compiled = fn.lower(abstract, {'image': images, 'label': labels}).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    out['sharded' if shard else 'replicated'] = dict(
        flops=cost['flops'], collectives=collectives(compiled.as_text()),
        compile_s=time.time() - start)
  return out


def measure(n: int, per_device_batch: int) -> dict:
  env = dict(os.environ, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={n}')
  out = subprocess.run(
      [sys.executable, os.path.abspath(__file__), f'--child={n}',
       f'--per_device_batch={per_device_batch}'],
      env=env, capture_output=True, text=True, check=True)
  line = [s for s in out.stdout.splitlines() if s.startswith('RESULT')][0]
  return json.loads(line.split(' ', 1)[1])


def project(n, r, peak, bw, utilization):
  """(no overlap, full overlap) step time in ms."""
  compute = r['flops'] / (peak * utilization)
  comm = sum(ring_factor(k, n) * b / bw
             for k, (_, b) in r['collectives'].items())
  return 1e3 * (compute + comm), 1e3 * max(compute, comm)


def main(argv):
  del argv
  if FLAGS.child:
    print('RESULT', json.dumps(compile_step(FLAGS.per_device_batch)))
    return
  chips = {}
  for item in FLAGS.chips.split(','):
    name, nums = item.split('=')
    tflops, gbps = nums.split(':')
    chips[name] = (float(tflops) * 1e12, float(gbps) * 1e9)
  counts = [int(n) for n in FLAGS.device_counts.split(',')]
  start = time.time()
  rows = {n: measure(n, FLAGS.per_device_batch) for n in counts}
  print('PROJECTIONS, NOT MEASUREMENTS: ResNet-50 train step (float32, '
        f'ImageNet shapes, {FLAGS.per_device_batch} images per device) '
        'compiled for N fake CPU devices; FLOPs and collectives read from '
        'the compiled program; step time from the chip assumptions below at '
        f'{FLAGS.utilization:.0%} of peak, ring collectives, no latency '
        'term.\n')
  print('| chip (assumed) | peak TFLOP/s | per-chip link GB/s |\n|---|---|---|')
  for name, (peak, bw) in chips.items():
    print(f'| {name} | {peak / 1e12:g} | {bw / 1e9:g} |')
  print('\nCollectives: MB per step (each op\'s full buffer), (ops).\n')
  print('| devices | state | GFLOP/device | '
        + ' | '.join(KINDS) + ' | '
        + ' | '.join(f'{c} ms (no / full overlap)' for c in chips) + ' |')
  print('|---' * (3 + len(KINDS) + len(chips)) + '|')
  for n, res in rows.items():
    for state, r in res.items():
      cells = [f'{b / 1e6:.1f} ({c})' if c else '-'
               for c, b in r['collectives'].values()]
      times = ['{:.1f} / {:.1f}'.format(
          *project(n, r, peak, bw, FLAGS.utilization))
               for peak, bw in chips.values()]
      print(f"| {n} | {state} | {r['flops'] / 1e9:,.0f} | "
            + ' | '.join(cells + times) + ' |')
  compile_s = sum(r['compile_s'] for res in rows.values()
                  for r in res.values())
  print('\nSharded: gradients appear as full all-reduces then slices (CPU '
        'compiler); as reduce-scatters on GPU/TPU they would cost half.')
  print(f'\nCompiled in {compile_s:.0f} s of {time.time() - start:.0f} s '
        'total (2-core CPU).')


if __name__ == '__main__':
  app.run(main)
