"""Runs the pruning experiments and prints their table (README, pruning).

  python benchmarks/pruning_experiments.py --group=han300 --seeds=0,1,2
  python benchmarks/pruning_experiments.py --group=all --table_only

Every row is an experiment config under experiments/configs/prune_*.py, run
by the suite runner (`jaxcompress.pipelines.suite.run_rows`) into
<root>/<row>/seed<seed>; finished runs are reused after their run store has
checked they ran the same config. The table gives the median test error over
the seeds (each seed's error listed), the share of weights (kernels)
removed, per-layer sparsity, and the CPU wall time of one run (median).
"""

import os
import statistics
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), os.path.join(os.path.dirname(_HERE),
                                                     'experiments')]

from absl import app, flags  # noqa: E402
from configs import (  # noqa: E402
    prune_lenet5_han,
    prune_lenet5_snip,
    prune_lenet300_gradual,
    prune_lenet300_han,
    prune_lenet300_lottery,
    prune_lenet300_snip,
    prune_mlp128_constrained,
    prune_mlp128_magnitude,
    prune_movement,
)

from jaxcompress import files  # noqa: E402
from jaxcompress.pipelines.suite import (  # noqa: E402
    Row,
    pct,
    per_seed,
    run_rows,
)

_WRITEUPS = 'write-ups: dense MLP 784-128-10 about 2%'


def _movement_name(model, score, sparsity):
  """Magnitude rows are the gradual-pruning rows of the same config."""
  if model == 'lenet300' and score == 'magnitude':
    return f'lenet300_gradual_{int(sparsity * 100)}'
  return f'{model}_{score}_{int(sparsity * 100)}'


def _groups():
  """group -> rows (name, config, published row)."""
  return {
      'mlp128': [
          *[Row(f'mlp128_magnitude_{int(s * 100)}',
                prune_mlp128_magnitude.get_config(str(s)), published=_WRITEUPS)
            for s in (0.5, 0.8, 0.9, 0.95)],
          *[Row(f'mlp128_constrained_{int(s * 100)}',
                prune_mlp128_constrained.get_config(str(s)),
                published=_WRITEUPS) for s in (0.5, 0.8, 0.9, 0.95)]],
      'movement': [
          Row(_movement_name(m, kind, s),
              prune_movement.get_config(f'{m},{kind},{s}'),
              published='Sanh 2020: movement beats magnitude at high '
              'sparsity (BERT)')
          for m in ('mlp128', 'lenet300') for s in (0.9, 0.95)
          for kind in ('magnitude', 'movement')],
      'han300': [Row('lenet300_han', prune_lenet300_han.get_config(),
                     published='Han 2015: 1.64% -> 1.59%, 8% of weights '
                     'left')],
      'gradual300': [
          Row(f'lenet300_gradual_{int(s * 100)}',
              prune_lenet300_gradual.get_config(str(s)),
              published='Zhu & Gupta cubic schedule (no MNIST row); SNIP '
              'row: ' + ('1.6% at 95%' if s == 0.95 else '2.4% at 98%'))
          for s in (0.95, 0.98)],
      'snip': [
          Row(f'lenet300_snip_{int(s * 100)}',
              prune_lenet300_snip.get_config(str(s)),
              published='Lee 2019: ' + ('1.6% at 95%' if s == 0.95
                                        else '2.4% at 98%'))
          for s in (0.95, 0.98)],
      'snip5': [
          Row(f'lenet5_snip_{int(s * 100)}',
              prune_lenet5_snip.get_config(str(s)),
              published='Lee 2019: ' + {0.95: '(no row at 95%)',
                                        0.98: '0.8% at 98%'}[s])
          for s in (0.95, 0.98)],
      'han5': [Row('lenet5_han', prune_lenet5_han.get_config(),
                   published='Han 2015: 0.80% -> 0.77%, 8% of weights left')],
      'lottery': [Row('lenet300_lottery', prune_lenet300_lottery.get_config(),
                      published='Frankle & Carbin 2019: better than dense '
                      'down to 3.6%')],
  }


flags.DEFINE_string('group', 'all', 'comma-separated groups, or all')
flags.DEFINE_string('seeds', '0', 'comma-separated seeds')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('layers', '', 'print the per-layer sparsity report of '
                    'this run folder (e.g. mlp128_constrained_90/seed0) and '
                    'exit')
flags.DEFINE_string('root', os.path.join(os.path.dirname(_HERE), 'workdirs',
                                         'pruning'), 'where the runs go')
FLAGS = flags.FLAGS


def table(rows, runs) -> str:
  lines = ['| run | published | seeds | test error (median; per seed) | '
           'weights removed | per-layer sparsity | wall time / run |',
           '|---|---|---|---|---|---|---|']
  for row in rows:
    res = runs.get(row.name)
    if not res:
      continue
    if 'lottery' in res[0]:
      lines.extend(_lottery_rows(row, res))
      continue
    pr = res[0]['pruning']
    layers = ', '.join(f"{n.split('/')[0]} {pct(v['sparsity'])}"
                       for n, v in pr['layers'].items() if v['pruned'])
    wall = statistics.median(r['wall_time_s'] for r in res)
    lines.append(
        f'| {row.name} | {row.published} | {len(res)} | '
        f"{per_seed([r['test_error'] for r in res])} | "
        f"{pct(pr['pruned_layers']['sparsity'])} | {layers} | {wall:.0f} s |")
  return '\n'.join(lines)


def _lottery_rows(row, res):
  """Per round: remaining weights, and the median error over seeds (each
  seed's error in brackets) rewound to init and randomly re-initialized."""
  wall = statistics.median(sum(r['wall_time_s'] for r in x['lottery'])
                           for x in res)
  lines = [f'| {row.name} | {row.published} | {len(res)} | see below | | | '
           f'{wall:.0f} s |', '',
           '| round | weights remaining | error, rewound to init | '
           'error, random re-init |', '|---|---|---|---|']

  def cell(errs):
    return '' if any(e is None for e in errs) else per_seed(errs)

  for rounds in zip(*(x['lottery'] for x in res)):
    lines.append(f"| {rounds[0]['round']} | {pct(rounds[0]['remaining'])} | "
                 f"{cell([r['error'] for r in rounds])} | "
                 f"{cell([r['reinit_error'] for r in rounds])} |")
  lines.append('')
  return lines


def main(argv):
  del argv
  if FLAGS.layers:
    from jaxcompress import pruning
    print(pruning.format_summary(files.read_json(os.path.join(
        FLAGS.root, FLAGS.layers, 'results.json'))['pruning']))
    return
  groups = _groups()
  names = sorted(groups) if FLAGS.group == 'all' else FLAGS.group.split(',')
  rows = [r for g in names for r in groups[g]]
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  runs = run_rows(rows, seeds, FLAGS.root, run=not FLAGS.table_only)
  print(table(rows, runs))


if __name__ == '__main__':
  app.run(main)
