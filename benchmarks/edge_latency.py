"""Edge latency: LiteRT float / dynamic-range / int8 beside JAX and PyTorch.

For each finished run (LeNet-300-100, its shrunk 266-88-33, LeNet-5, its
shrunk 9-18-25, and the MNIST ViT) the final model is
exported with `jaxcompress.export` (int8: the converter calibrated on 500
training images) and measured:

  bytes        size of the .tflite file (JAX: model.msgpack / shrunk.msgpack
               as the run wrote it)
  test error   on the 10,000 MNIST test images, in the runtime of the row
  b1 ms        median wall time of one batch-1 call (copy in, run, copy
               out), LiteRT with 1 and with 2 threads; JAX jitted (XLA picks
               its own threads); PyTorch eager (torch.set_num_threads 1 / 2)

Every callable of every model is timed in one loop: each round gives every
row a block of consecutive calls (caches warm, as in an app that keeps
calling), rows in rotating order (`export.time_alternating`), so the shared
machine's load falls on all rows alike. The targets of issue 15 are checked
at the end, and for a pruned run (`--pruned`) the converter's sparsity
encoding is set beside the dense file.

  P='python experiments/main.py --config=experiments/configs'
  $P/lenet_300_100.py --workdir=workdirs/lenet_300_100
  $P/structured_lenet_300_100.py --workdir=workdirs/structured_lenet_300_100
  $P/lenet5.py --workdir=workdirs/lenet5
  $P/structured_lenet5.py --workdir=workdirs/structured_lenet5
  $P/vit_mnist.py --workdir=workdirs/vit
  $P/prune_lenet300_gradual.py:0.95 \
      --workdir=workdirs/prune_lenet300_gradual_95
  python benchmarks/edge_latency.py --rounds 50 --block 10
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import jax  # noqa: E402
import numpy as np  # noqa: E402

from jaxcompress import export, models  # noqa: E402
from jaxcompress.export import runs  # noqa: E402

FAMILIES = (
    ('LeNet-300-100', 'lenet_300_100', 'structured_lenet_300_100'),
    ('LeNet-5', 'lenet5', 'structured_lenet5'),
    ('ViT', 'vit', None),
)
FORMATS = ('none', 'dynamic', 'int8')
LABEL = {'none': 'LiteRT float32', 'dynamic': 'LiteRT dynamic-range',
         'int8': 'LiteRT int8'}


# ------------------------------------------------------- PyTorch twins ---


def _torch_model(model, variables):
  """The zoo's MLP / LeNet5 as an eager PyTorch module on NHWC input."""
  import torch
  p = jax.tree.map(lambda a: torch.from_numpy(np.array(a, np.float32)),
                   variables['params'])

  def dense(x, name, relu):
    y = x @ p[name]['kernel'] + p[name]['bias']
    return torch.relu(y) if relu else y

  if isinstance(model, models.MLP) and not model.batch_norm:
    idx = (None if model.inputs is None else
           torch.tensor(np.asarray(model.inputs), dtype=torch.long))
    n = len(model.features)

    def forward(x):
      x = x.reshape(x.shape[0], -1)
      if idx is not None:
        x = x[:, idx]
      for i in range(1, n + 1):
        x = dense(x, f'fc{i}', True)
      return dense(x, f'fc{n + 1}', False)
    return forward
  if isinstance(model, models.LeNet5) and not model.batch_norm:
    conv = {k: (p[k]['kernel'].permute(3, 2, 0, 1).contiguous(), p[k]['bias'])
            for k in ('conv1', 'conv2')}
    F = torch.nn.functional

    def forward(x):
      x = x.permute(0, 3, 1, 2)
      for k in ('conv1', 'conv2'):
        x = F.max_pool2d(F.conv2d(x, *conv[k]), 2)
      x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)   # NHWC flatten
      return dense(dense(x, 'fc1', True), 'fc2', False)
    return forward
  return None


def _torch_threads(n):
  import torch
  torch.set_num_threads(n)


# ------------------------------------------------------------- the rows ---


def _file_bytes(run) -> int | None:
  for name in ('shrunk.msgpack', 'model.msgpack'):
    path = os.path.join(run.workdir, name)
    if run.kind == 'shrunk' and name == 'model.msgpack':
      path = os.path.join(run.workdir, 'finetune', name)
    if os.path.exists(path):
      return os.path.getsize(path)
  return None


def _error(logits, labels) -> float:
  return float(np.mean(np.asarray(logits).argmax(-1) != labels))


def build(workdir: str, ds, x1, torch_ok: bool):
  """Rows (dicts), the callables to time and their untimed preparation."""
  run = runs.load(workdir)
  tag = os.path.basename(os.path.normpath(workdir))
  rows, fns, prep = [], {}, {}
  for q in FORMATS:
    tflite, _ = runs.export(run, q, ds)
    row = {'run': tag, 'runtime': LABEL[q], 'format': q, 'bytes': len(tflite),
           'error': export.error(tflite, ds.test_images, ds.test_labels)}
    for t in (1, 2):
      call = export.runner(tflite, t)
      fns[(tag, q, t)] = lambda call=call: call(x1)
    rows.append(row)
  f = jax.jit(lambda b: run.model.apply(run.variables, b, train=False))
  jax_logits = np.concatenate([np.asarray(f(ds.test_images[i:i + 1000]))
                               for i in range(0, len(ds.test_labels), 1000)])
  xj = jax.device_put(x1)
  fns[(tag, 'jax', 0)] = lambda: f(xj).block_until_ready()
  rows.append({'run': tag, 'runtime': 'JAX jit float32', 'format': 'jax',
               'bytes': _file_bytes(run),
               'error': _error(jax_logits, ds.test_labels)})
  fwd = _torch_model(run.model, run.variables) if torch_ok else None
  if fwd is not None:
    import torch
    with torch.inference_mode():
      t_logits = fwd(torch.from_numpy(ds.test_images)).numpy()
    diff = float(np.max(np.abs(t_logits - jax_logits)))
    if diff > 1e-3:
      raise RuntimeError(f'{tag}: the PyTorch twin differs from JAX by {diff}')
    xt = torch.from_numpy(x1)

    def call_torch():
      with torch.inference_mode():
        return fwd(xt)

    for t in (1, 2):
      fns[(tag, 'torch', t)] = call_torch
      prep[(tag, 'torch', t)] = lambda t=t: _torch_threads(t)
    rows.append({'run': tag, 'runtime': 'PyTorch eager float32',
                 'format': 'torch', 'bytes': None,
                 'error': _error(t_logits, ds.test_labels)})
  return run, rows, fns, prep


def _fmt_ms(v):
  return '-' if v is None else f'{v:.4f}'


def sparse_rows(workdir: str, ds, x1, rounds: int, block: int) -> list[str]:
  """Dense vs the converter's sparsity encoding for an unstructured run."""
  run = runs.load(workdir)
  kernels = [np.asarray(a) for a in jax.tree.leaves(run.variables['params'])
             if np.ndim(a) == 2]
  zeros = sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size
                                                          for k in kernels)
  out = [f'\nSparsity encoding ({workdir}: {zeros:.1%} of kernel weights '
         'zero), batch 1, 1 thread, median of alternating calls:\n',
         '| file | bytes | test error | XNNPACK ms | builtin kernels ms |',
         '|---|---|---|---|---|']
  fns, meta = {}, []
  for q in ('none', 'int8'):
    for sparse in (False, True):
      tflite, _ = runs.export(run, q, ds, sparse=sparse)
      name = f'{LABEL[q]}{", sparse" if sparse else ""}'
      err = export.error(tflite, ds.test_images, ds.test_labels,
                         xnnpack=not sparse or q == 'none')
      for xnn in (True, False):
        try:
          call = export.runner(tflite, 1, xnnpack=xnn)
        except RuntimeError:   # XNNPACK refuses quantized sparse kernels
          continue
        fns[(name, xnn)] = lambda call=call: call(x1)
      meta.append((name, len(tflite), err))
  ms = export.time_alternating(fns, rounds, block)
  for name, n, err in meta:
    xnn = ms.get((name, True))
    xnn_s = _fmt_ms(xnn) if xnn is not None else 'refused by XNNPACK'
    out.append(f'| {name} | {n:,} | {err:.2%} | {xnn_s} | '
               f'{_fmt_ms(ms.get((name, False)))} |')
  return out


def main():
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('--workdirs', default='workdirs',
                  help='folder holding the runs named in FAMILIES')
  ap.add_argument('--rounds', type=int, default=50,
                  help='rounds of alternation')
  ap.add_argument('--block', type=int, default=10,
                  help='consecutive calls of one row per round')
  ap.add_argument('--pruned', default='workdirs/prune_lenet300_gradual_95',
                  help="an unstructured-pruned run for the sparsity rows "
                  "('' to skip)")
  args = ap.parse_args()
  from jaxcompress import data
  ds = data.load()
  x1 = np.asarray(ds.test_images[:1])
  try:
    import torch  # noqa: F401
    torch_ok = True
  except ImportError:
    torch_ok = False
    print('PyTorch not installed: no PyTorch rows '
          '(pip install torch==2.13.0 for the CPU wheel)')
  table, fns, prep, notes = [], {}, {}, []
  for family, dense, shrunk in FAMILIES:
    for name in (dense, shrunk):
      if name is None:
        continue
      w = os.path.join(args.workdirs, name)
      if not os.path.exists(os.path.join(w, 'results.json')):
        notes.append(f'{family}: skipped {w}, no finished run there')
        continue
      run, rows, f, p = build(w, ds, x1, torch_ok)
      for r in rows:
        r['family'] = family
        r['model'] = _describe(run)
      table += rows
      fns.update(f)
      prep.update(p)
  load0 = os.getloadavg()[0]
  ms = export.time_alternating(fns, args.rounds, args.block, prepare=prep)
  load = os.getloadavg()[0]
  print(f'jax {jax.__version__}, {jax.devices()[0].platform}, '
        f'{os.cpu_count()} cpus; batch 1, median of {args.rounds} rounds x '
        f'{args.block} calls, rows alternating by round; 1-minute load '
        f'average {load0:.1f} before, {load:.1f} after\n')
  print('| family | model | runtime | bytes | test error | b1 ms 1 thread | '
        'b1 ms 2 threads |')
  print('|---|---|---|---|---|---|---|')
  for r in table:
    key = (r['run'], r['format'])
    one = ms.get(key + (1,))
    two = ms.get(key + (2,))
    if r['format'] == 'jax':
      one, two = None, ms.get(key + (0,))
    r['ms1'], r['ms2'] = one, two
    b = '-' if r['bytes'] is None else f'{r["bytes"]:,}'
    print(f'| {r["family"]} | {r["model"]} | {r["runtime"]} | {b} | '
          f'{r["error"]:.2%} | {_fmt_ms(one)} | {_fmt_ms(two)} |')
  print('\nJAX: XLA CPU chooses its own threads (the 2-thread column).')
  for n in notes:
    print(n)
  print()
  for line in targets(table):
    print(line)
  if args.pruned:
    if os.path.exists(os.path.join(args.pruned, 'results.json')):
      for line in sparse_rows(args.pruned, ds, x1, args.rounds, args.block):
        print(line)
    else:
      print(f'\nSparsity rows skipped: no finished run in {args.pruned}')


def _describe(run) -> str:
  m = run.model
  widths = getattr(m, 'features', None)
  name = run.config.get('model', type(m).__name__)
  if run.kind == 'shrunk':
    pix = '' if getattr(m, 'inputs', None) is None else f'{len(m.inputs)}-'
    return f'{name} shrunk {pix}{"-".join(map(str, widths))}'
  return name


def targets(table) -> list[str]:
  """Issue 15's speed targets, from the 1-thread LiteRT column."""
  def ms(run, fmt):
    return next((r['ms1'] for r in table if r['run'] == run
                 and r['format'] == fmt), None)

  out = ['Targets (1 thread):']
  for run, need in (('lenet_300_100', 3.0), ('lenet5', 1.8)):
    f, i = ms(run, 'none'), ms(run, 'int8')
    if f and i:
      ratio = f / i
      out.append(f'  {run}: int8 {ratio:.2f}x faster than float LiteRT '
                 f'(target >= {need}x): {"met" if ratio >= need else "MISSED"}')
  for family in dict.fromkeys(r['family'] for r in table):
    timed = [(r['ms2'] if r['format'] == 'jax' else r['ms1'], r)
             for r in table if r['family'] == family]
    if not any(r['run'].startswith('structured') for _, r in timed):
      continue   # no shrunk model in this family
    best = min((t for t in timed if t[0] is not None),
               key=lambda t: t[0])[1]
    ok = best['run'].startswith('structured') and best['format'] == 'int8'
    out.append(f'  {family}: fastest row {best["model"]}, {best["runtime"]} '
               f'({_fmt_ms(best["ms1"] or best["ms2"])} ms); shrunk + int8 '
               f'fastest: {"met" if ok else "MISSED"}')
  f, i = ms('vit', 'none'), ms('vit', 'int8')
  if f and i:
    out.append(f'  vit: int8 {f / i:.2f}x of float LiteRT speed (target: no '
               f'slower): {"met" if i <= f else "MISSED"}')
  return out


if __name__ == '__main__':
  main()
