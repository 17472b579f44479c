"""Runs the structured-pruning experiments and prints their table.

  python benchmarks/structured_results_table.py [--seeds=0,1,2] \
      [--rows=structured_lenet_300_100] [--table_only]

One markdown row per experiment (the configs of docs/results_structured.md,
run by the suite runner into workdirs/structured/<row>/seed<seed>; finished
runs reused after their identity check), beside the published row it
reproduces (ANCHORS.md) and our dense baseline. The test error is the median
over the seeds, each listed; the other columns are the median seed's.
LeNet-5 and ResNet rows start from the trained baselines named in their
configs' `init_from` (workdirs/lenet5, workdirs/lenet_300_100).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), os.path.join(os.path.dirname(_HERE),
                                                     'experiments')]

from absl import app, flags  # noqa: E402
from configs import (  # noqa: E402
    structured_lenet5,
    structured_lenet_300_100,
    structured_mlp64_scratch,
    structured_mlp128_apoz,
    structured_resnet_dense,
    structured_resnet_slimming,
)

from jaxcompress import files  # noqa: E402
from jaxcompress.pipelines.suite import (  # noqa: E402
    Row,
    median_run,
    per_seed,
    run_rows,
)

flags.DEFINE_string('seeds', '0', 'comma-separated seeds')
flags.DEFINE_string('rows', '', 'comma-separated rows (default: all)')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('root', os.path.join(os.path.dirname(_HERE), 'workdirs',
                                         'structured'), 'where the runs go')
FLAGS = flags.FLAGS

_APOZ = structured_mlp128_apoz.get_config()
CONFIGS = {
    'structured_mlp128_apoz': (_APOZ, {}),
    **{f'structured_mlp128_{s}': (_APOZ, {'structured': {'score': s}})
       for s in ('mean', 'mean_abs', 'taylor', 'l2')},
    'structured_mlp128_dense': (_APOZ, {'structured': {'sparsity': 0.0}}),
    'structured_mlp64_scratch': (structured_mlp64_scratch.get_config(), {}),
    'structured_lenet_300_100': (structured_lenet_300_100.get_config(), {}),
    'structured_lenet5': (structured_lenet5.get_config(), {}),
    'structured_resnet_slimming': (structured_resnet_slimming.get_config(),
                                   {}),
    'structured_resnet_dense': (structured_resnet_dense.get_config(), {}),
}

# (workdir, what, published row, published result, dense baseline workdir)
EXPERIMENTS = [
    ('structured_mlp128_apoz', 'MLP 784-128-10, APoZ, one-shot 50% of units',
     'MLP 784-128-10 plain baseline', 'about 2%', 'structured_mlp128_dense'),
    ('structured_mlp128_mean', 'MLP 784-128-10, mean activation, 50%',
     'MLP 784-128-10 plain baseline', 'about 2%', 'structured_mlp128_dense'),
    ('structured_mlp128_mean_abs', 'MLP 784-128-10, mean abs activation, 50%',
     'MLP 784-128-10 plain baseline', 'about 2%', 'structured_mlp128_dense'),
    ('structured_mlp128_taylor', 'MLP 784-128-10, Taylor abs(a x g), 50%',
     'MLP 784-128-10 plain baseline', 'about 2%', 'structured_mlp128_dense'),
    ('structured_mlp128_l2', 'MLP 784-128-10, L2 of weights, 50%',
     'MLP 784-128-10 plain baseline', 'about 2%', 'structured_mlp128_dense'),
    ('structured_mlp64_scratch', 'dense 784-64-10 from scratch (same budget)',
     'model-compression baseline', '-', None),
    ('structured_lenet_300_100',
     'LeNet-300-100, pixels + units, L2 score, cubic, distilled from dense',
     'L0 reg., LeNet-300-100 (Louizos 2018)', '266-88-33, 1.6% (1.8%)',
     'lenet_300_100'),
    ('structured_lenet5', 'LeNet-5, L2 score, cubic, shrink + fine-tune',
     'L0 reg., LeNet-5 (Louizos 2018)', '9-18-65-25, 1.0%', 'lenet5'),
    ('structured_resnet_slimming', 'ResNetSmall, BN-scale L1 (slimming), global',
     'network slimming (Liu 2017), MLP 784-500-300', '1.43% -> 1.49%, -84.4% params',
     'structured_resnet_dense'),
]


def _summary(r):
  """(widths, error, params, dense params, flops ratio, error before finetune)."""
  if 'prune_stage' in r:  # prune_shrink_finetune
    s = r['prune_stage'].get('structured') or {}
    return (s.get('widths'), r['test_error'], r['num_params'],
            s.get('dense_num_params'), s.get('flops_ratio'),
            r['prune_stage']['test_error'], s.get('dense_widths'))
  s = r.get('structured')
  if s:
    return (s['widths'], s['test_error'], s['num_params'],
            s['dense_num_params'], s['flops_ratio'], None, s['dense_widths'])
  return (None, r['test_error'], r['num_params'], r['num_params'], 1.0, None,
          None)


def _widths(w, dense):
  if not w:
    return '-'
  hidden = [k for k in w if dense is None or k in dense]
  # Output group last (its width never changes).
  return '-'.join(str(w[k]) for k in hidden[:-1]) or '-'


def _baseline(name):
  """The results of a baseline run in workdirs/<name> (init_from of the
  LeNet rows), if it finished."""
  path = os.path.join(os.path.dirname(_HERE), 'workdirs', name or '',
                      'results.json')
  return [files.read_json(path)] if name and os.path.exists(path) else None


def main(argv):
  del argv
  names = FLAGS.rows.split(',') if FLAGS.rows else list(CONFIGS)
  seeds = [int(x) for x in FLAGS.seeds.split(',')]
  rows = [Row(n, *CONFIGS[n]) for n in names]
  runs = run_rows(rows, seeds, FLAGS.root, run=not FLAGS.table_only)
  print('| experiment | what | published row | published | '
        'dense baseline error (ours) | widths (pruned inputs, hidden) | '
        'test error | error before fine-tune | params (dense -> ours) | '
        'FLOPs ratio |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  for name, what, row, published, base in EXPERIMENTS:
    res = runs.get(name)
    if not res:
      continue
    widths, _, params, dparams, ratio, before, dense = _summary(
        median_run(res))
    b = runs.get(base) or _baseline(base)
    base_err = (f"{100 * b[0]['test_error']:.2f}%" if b else
                'not run' if base else '-')
    before = f'{100 * before:.2f}%' if before is not None else '-'
    dp = f'{dparams:,} -> ' if dparams and dparams != params else ''
    print(f'| {name} | {what} | {row} | {published} | {base_err} | '
          f'{_widths(widths, dense)} | '
          f"{per_seed([r['test_error'] for r in res])} | {before} | "
          f'{dp}{params:,} | {ratio:.2f}x |')


if __name__ == '__main__':
  app.run(main)
