"""Runs the pruning experiments and prints their table (docs/results_pruning.md).

  python benchmarks/pruning_experiments.py --group=han300 --seeds=0,1,2
  python benchmarks/pruning_experiments.py --group=all --table_only

Each run is `python experiments/main.py --config=... --workdir=...` under
workdirs/pruning/<run>_s<seed>; finished runs (a results.json) are reused.
The table gives the median test error over the seeds that finished (each
seed's error listed), the share of weights (kernels) removed, per-layer
sparsity, and the CPU wall time of one run (median).
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG = 'experiments/configs/'

# group -> [(run name, config[:arg], published row)]
GROUPS = {
    'mlp128': [
        *[(f'mlp128_magnitude_{int(s * 100)}',
           f'prune_mlp128_magnitude.py:{s}',
           'write-ups: dense MLP 784-128-10 about 2%')
          for s in (0.5, 0.8, 0.9, 0.95)],
        *[(f'mlp128_constrained_{int(s * 100)}',
           f'prune_mlp128_constrained.py:{s}',
           'write-ups: dense MLP 784-128-10 about 2%')
          for s in (0.5, 0.8, 0.9, 0.95)],
    ],
    'han300': [('lenet300_han', 'prune_lenet300_han.py',
                'Han 2015: 1.64% -> 1.59%, 8% of weights left')],
    'gradual300': [
        (f'lenet300_gradual_{int(s * 100)}', f'prune_lenet300_gradual.py:{s}',
         'Zhu & Gupta cubic schedule (no MNIST row); SNIP row: '
         + ('1.6% at 95%' if s == 0.95 else '2.4% at 98%'))
        for s in (0.95, 0.98)],
    'snip': [
        (f'lenet300_snip_{int(s * 100)}', f'prune_lenet300_snip.py:{s}',
         'Lee 2019: ' + ('1.6% at 95%' if s == 0.95 else '2.4% at 98%'))
        for s in (0.95, 0.98)],
    'snip5': [
        (f'lenet5_snip_{int(s * 100)}', f'prune_lenet5_snip.py:{s}',
         'Lee 2019: ' + {0.95: '(no row at 95%)', 0.98: '0.8% at 98%',
                         0.99: '1.1% at 99%'}[s])
        for s in (0.95, 0.98)],
    'han5': [('lenet5_han', 'prune_lenet5_han.py',
              'Han 2015: 0.80% -> 0.77%, 8% of weights left')],
    'lottery': [('lenet300_lottery', 'prune_lenet300_lottery.py',
                 'Frankle & Carbin 2019: better than dense down to 3.6%')],
}

flags.DEFINE_string('group', 'all', f'one of {sorted(GROUPS)} or all')
flags.DEFINE_string('seeds', '0', 'comma-separated seeds')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('layers', '', 'print the per-layer sparsity report of '
                    'this run (e.g. mlp128_constrained_90_s0) and exit')
flags.DEFINE_string('root', os.path.join(REPO, 'workdirs', 'pruning'),
                    'where the runs go')
FLAGS = flags.FLAGS


def _workdir(name, seed):
  return os.path.join(FLAGS.root, f'{name}_s{seed}')


def _run(name, cfg, seed):
  wd = _workdir(name, seed)
  if os.path.exists(os.path.join(wd, 'results.json')):
    return
  cmd = [sys.executable, 'experiments/main.py', f'--config={CFG}{cfg}',
         f'--workdir={wd}', f'--config.seed={seed}']
  print('+', ' '.join(cmd), flush=True)
  subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def _load(name, seeds):
  out = []
  for s in seeds:
    p = os.path.join(_workdir(name, s), 'results.json')
    if os.path.exists(p):
      with open(p) as f:
        out.append(json.load(f))
  return out


def _pct(x):
  return f'{100 * x:.2f}%'


def table(groups, seeds) -> str:
  lines = ['| run | published | seeds | test error (median; per seed) | '
           'weights removed | per-layer sparsity | wall time / run |',
           '|---|---|---|---|---|---|---|']
  for g in groups:
    for name, cfg, published in GROUPS[g]:
      res = _load(name, seeds)
      if not res:
        continue
      if 'lottery' in res[0]:
        lines.extend(_lottery_rows(name, res, published))
        continue
      errs = [r['test_error'] for r in res]
      pr = res[0]['pruning']
      layers = ', '.join(
          f"{n.split('/')[0]} {_pct(v['sparsity'])}"
          for n, v in pr['layers'].items() if v['pruned'])
      wall = statistics.median(r['wall_time_s'] for r in res)
      lines.append(
          f'| {name} | {published} | {len(res)} | '
          f'{_pct(statistics.median(errs))} ('
          + ', '.join(_pct(e) for e in errs) + ') | '
          f"{_pct(pr['pruned_layers']['sparsity'])} | {layers} | "
          f'{wall:.0f} s |')
  return '\n'.join(lines)


def _lottery_rows(name, res, published):
  """Per round: remaining weights, and the median error over seeds (each
  seed's error in brackets) rewound to init and randomly re-initialized."""
  wall = statistics.median(sum(r['wall_time_s'] for r in x['lottery'])
                           for x in res)
  lines = [f'| {name} | {published} | {len(res)} | see below | | | '
           f'{wall:.0f} s |', '',
           '| round | weights remaining | error, rewound to init | '
           'error, random re-init |', '|---|---|---|---|']

  def cell(errs):
    if any(e is None for e in errs):
      return ''
    per_seed = f" ({', '.join(_pct(e) for e in errs)})" if len(errs) > 1 else ''
    return _pct(statistics.median(errs)) + per_seed

  for rows in zip(*(x['lottery'] for x in res)):
    lines.append(f"| {rows[0]['round']} | {_pct(rows[0]['remaining'])} | "
                 f"{cell([r['error'] for r in rows])} | "
                 f"{cell([r['reinit_error'] for r in rows])} |")
  lines.append('')
  return lines


def main(argv):
  del argv
  if FLAGS.layers:
    sys.path.insert(0, REPO)
    from jaxcompress.pruning import summary
    with open(os.path.join(FLAGS.root, FLAGS.layers, 'results.json')) as f:
      print(summary.format_summary(json.load(f)['pruning']))
    return
  groups = sorted(GROUPS) if FLAGS.group == 'all' else FLAGS.group.split(',')
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  if not FLAGS.table_only:
    for g in groups:
      for name, cfg, _ in GROUPS[g]:
        for s in seeds:
          _run(name, cfg, s)
  print(table(groups, seeds))


if __name__ == '__main__':
  app.run(main)
