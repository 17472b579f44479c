"""Inference latency of dense vs physically shrunk models, beside FLOPs.

For each case the dense zoo model is masked to the given widths (the first
units of every group kept), shrunk with `jaxcompress.structured.shrink`, and
both forward passes are jitted, warmed up, and timed at batch 1 and 1024.
Dense and shrunk calls alternate within each repeat so that the load of the
shared machine hits both alike; the median over repeats is printed, with the
speed-up and the FLOPs ratio (`jaxcompress.metrics.summarize`). Weights are
random: latency does not depend on their values.

Each model runs compiled the fastest way the library offers it, chosen per
model and batch size by a short interleaved timing (`timing.fastest`, 5
rounds) before the measured one: XLA's default compiler options or nothing
in YNNPACK (the convolutions and dots in Eigen), and, for LeNet-5, its
convolutions as XLA's or on pixel blocks (`LeNet5(lowering='blocked')`,
jaxcompress/conv_pool.py). The table names the choice; `--notune` keeps
XLA's lowering and defaults for every model.

  python benchmarks/structured_latency.py                 # default cases
  python benchmarks/structured_latency.py --cases 'lenet_300_100:88,33' \
      --repeats 200

A case is ``model:w1,w2,...`` (the widths attribute of the model:
`features` for MLP/LeNet5, `stage_features` for ResNetSmall), optionally
followed by ``:n`` to keep n of the 784 input pixels as well (MLPs: the
shrunk model gathers them, `models.MLP.inputs`).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import jaxcompress.structured as st  # noqa: E402
from jaxcompress import metrics, models, timing  # noqa: E402

DEFAULT_CASES = ('lenet_300_100:88,33:266;lenet_300_100:88,33;mlp_128:64;'
                 'lenet5:9,18,25;resnet_small:8,16')


def _shrunk(name: str, widths: tuple[int, ...], inputs: int | None):
  model = models.get_model(name)
  variables = jax.jit(model.init)(jax.random.PRNGKey(0),
                                  jnp.zeros((1, 28, 28, 1)))
  graph = st.trace_groups(model, variables, (28, 28, 1),
                           inputs=inputs is not None)
  attrs = st.width_attributes(model, graph)
  keep = {} if inputs is None else {'input': np.arange(inputs)}
  field = None
  for (f, index), names in attrs.items():
    if index is None or f == 'num_classes':
      continue
    field = f
    for n in names:
      keep[n] = np.arange(widths[index])
  if field is None or len(widths) != len(getattr(model, field)):
    raise ValueError(f'{name}: give {len(getattr(model, field))} widths')
  masked = st.mask_variables(graph, variables, keep)
  small, small_vars = st.shrink(model, masked, keep, graph)
  x = jax.random.normal(jax.random.PRNGKey(1), (8, 28, 28, 1))
  diff = float(jnp.max(jnp.abs(model.apply(masked, x) - small.apply(small_vars, x))))
  return model, variables, small, small_vars, diff


# XLA:CPU hands these to YNNPACK by default (REDUCE, INDIVIDUAL_DOT,
# INDIVIDUAL_CONVOLUTION); empty, everything runs in Eigen or XLA's code.
_EIGEN = {'xla_cpu_experimental_ynn_fusion_type': ''}


def _variants(model, tune: bool):
  """{label: jitted apply} of the ways `model` can be compiled."""
  lowerings = (('xla', 'blocked') if tune and 'lowering' in
               getattr(model, '__dataclass_fields__', {}) else (None,))
  out = {}
  for lowering in lowerings:
    m = model if lowering is None else model.clone(lowering=lowering)
    for tag, opts in (('defaults', None), ('eigen', _EIGEN))[:2 if tune
                                                               else 1]:
      label = f'{lowering or "xla"}/{tag}'
      out[label] = jax.jit(lambda v, x, m=m: m.apply(v, x, train=False),
                           compiler_options=opts)
  return out


def _time_pair(dense, v_dense, small, v_small, x, repeats):
  """The fastest variant of each model, then both timed in turns; returns
  (dense ms, shrunk ms, dense variant, shrunk variant)."""
  pick = lambda fs, v: timing.fastest(
      {k: (lambda f=f: f(v, x)) for k, f in fs.items()}, 5, warmup=1)
  kd, ks = pick(dense, v_dense), pick(small, v_small)
  fd, fs = dense[kd], small[ks]
  t = timing.ms(timing.interleaved({
      'dense': lambda: fd(v_dense, x),
      'small': lambda: fs(v_small, x)}, repeats, warmup=1))
  return t['dense'], t['small'], kd, ks


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--cases', default=DEFAULT_CASES)
  ap.add_argument('--repeats', type=int, default=100)
  ap.add_argument('--batch_sizes', default='1,1024')
  ap.add_argument('--tune', action=argparse.BooleanOptionalAction,
                  default=True, help='pick the fastest compilation per model')
  args = ap.parse_args()
  batch_sizes = [int(b) for b in args.batch_sizes.split(',')]
  rows = []
  for case in args.cases.split(';'):
    name, w, *n_in = case.split(':')
    widths = tuple(int(v) for v in w.split(','))
    inputs = int(n_in[0]) if n_in else None
    model, v, small, sv, diff = _shrunk(name, widths, inputs)
    x1 = np.zeros((1, 28, 28, 1), np.float32)
    dense_sum = metrics.summarize(model, v, x1)
    small_sum = metrics.summarize(small, sv, x1)
    fd, fs = _variants(model, args.tune), _variants(small, args.tune)
    row = {
        'model': name,
        'shrunk': '-'.join(map(str, ((inputs,) if inputs else ()) + widths)),
        'params': f"{dense_sum['num_params']:,} -> {small_sum['num_params']:,}",
        'flops_ratio': dense_sum['flops_dense'] / small_sum['flops_dense'],
        'max_diff': diff,
    }
    for bs in batch_sizes:
      x = jax.random.normal(jax.random.PRNGKey(bs), (bs, 28, 28, 1))
      row[f'b{bs}'] = _time_pair(fd, v, fs, sv, x, args.repeats)
    rows.append(row)
    print(f'# done {name}', file=sys.stderr, flush=True)

  print(f'jax {jax.__version__}, {jax.devices()[0].device_kind}, '
        f'{os.cpu_count()} cpus; median of {args.repeats} alternating repeats, '
        'jitted, after warm-up; 1-minute load average '
        f'{os.getloadavg()[0]:.1f}\n')
  head = ['model', 'shrunk widths', 'params', 'FLOPs ratio']
  for bs in batch_sizes:
    head += [f'batch {bs} dense ms', f'batch {bs} shrunk ms',
             f'batch {bs} speed-up', f'batch {bs} compiled as (dense; shrunk)']
  head.append('max abs diff shrunk vs masked')
  print('| ' + ' | '.join(head) + ' |')
  print('|' + '---|' * len(head))
  for r in rows:
    cells = [r['model'], r['shrunk'], r['params'], f"{r['flops_ratio']:.2f}x"]
    for bs in batch_sizes:
      d, s, cd, cs = r[f'b{bs}']
      cells += [f'{d:.3f}', f'{s:.3f}', f'{d / s:.2f}x', f'{cd}; {cs}']
    cells.append(f"{r['max_diff']:.1e}")
    print('| ' + ' | '.join(cells) + ' |')


if __name__ == '__main__':
  main()
