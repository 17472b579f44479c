"""The structured-pruning results table, from the experiments' results.json.

Run the experiments of docs/results_structured.md first (their commands are
there and in each config's docstring), then

  python benchmarks/structured_results_table.py [--workdirs workdirs]

prints one markdown row per experiment that has finished, beside the
published row it reproduces (ANCHORS.md) and our dense baseline. Where
`<workdir>_s1`, `<workdir>_s2`, ... hold the same config run with
`--config.seed=1, 2, ...`, the test error is the median over the seeds (the
other columns are seed 0's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics

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


def _load(workdirs, name):
  path = os.path.join(workdirs, name, 'results.json')
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


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


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--workdirs', default='workdirs')
  args = ap.parse_args()
  print('| experiment (workdir) | what | published row | published | '
        'dense baseline error (ours) | widths (pruned inputs, hidden) | test error | '
        'error before fine-tune | params (dense -> ours) | FLOPs ratio |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  for name, what, row, published, base in EXPERIMENTS:
    r = _load(args.workdirs, name)
    if r is None:
      continue
    widths, err, params, dparams, ratio, before, dense = _summary(r)
    # Seeds 1, 2, ... in <workdir>_s<seed>: the median and every seed's error.
    errs = [err] + [x['test_error'] for x in (
        _load(args.workdirs, f'{name}_s{s}') for s in range(1, 10)) if x]
    err_cell = f'{100 * statistics.median(errs):.2f}%'
    if len(errs) > 1:
      err_cell += (f' (median of {len(errs)} seeds: '
                   + ', '.join(f'{100 * e:.2f}%' for e in errs) + ')')
    b = _load(args.workdirs, base) if base else None
    base_err = (f"{100 * b['test_error']:.2f}%" if b else
                'not run' if base else '-')
    before = f'{100 * before:.2f}%' if before is not None else '-'
    dp = f'{dparams:,} -> ' if dparams and dparams != params else ''
    print(f'| {name} | {what} | {row} | {published} | {base_err} | '
          f'{_widths(widths, dense)} | {err_cell} | {before} | '
          f'{dp}{params:,} | {ratio:.2f}x |')


if __name__ == '__main__':
  main()
