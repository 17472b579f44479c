"""Pareto curves: test error against file bytes, auto against the rest.

  python benchmarks/pareto.py --seeds=0,1,2 [--models=mlp_128,lenet_300_100]

For each model (experiments/configs/auto_common.py), over seeds, through the
suite runner into <root>/<model>/<row>/seed<s> (finished runs reused after
their identity is checked, so an interrupted batch resumes):

  baseline         the trained model every row compresses (validation split
                   held out), shared by the seed's rows
  auto_<r>x        the `auto` pipeline at a bytes budget r x smaller than
                   the float32 file: per-layer sparsity and bits by the
                   exact knapsack, pruning + QAT + distillation, one file
  uniform_<r>x     the same budget, pipeline and grid, one option for
                   every layer (uniform allocation)
  pruning_<r>x     pruning alone: float32 values, sparse, entropy-coded
  quant_<r>x       quantization alone: dense kernels, per-layer bits,
                   entropy-coded
  structured_<r>x  structured pruning alone at r x fewer FLOPs: the shrunk
                   model's float32 model file

Every row is an `auto` pipeline over the same baseline and the same
sensitivity machinery (tables shared through `auto.table_cache`); single
strategies restrict the option grid. Writes pareto.md (the table, medians
of the seeds with each seed listed), pareto.png (error against bytes) and
plans.md (the median seed's plan of every auto and uniform row, per layer,
predicted against measured) into --out, and says whether auto beats
uniform at every budget.
"""

import os
import statistics
import sys

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path[:0] = [_REPO, os.path.join(_REPO, 'experiments')]

from absl import app, flags  # noqa: E402
from configs import auto_common  # noqa: E402

from jaxcompress import files, report  # noqa: E402
from jaxcompress.pipelines.suite import (  # noqa: E402
    Row,
    median_run,
    per_seed,
    run_rows,
)

RATIOS = {'mlp_128': (16, 32, 48, 64), 'lenet_300_100': (32, 48, 64, 96)}
SINGLE = {  # strategy: (budget kind, auto fields, ratios per model)
    'pruning': ('bytes', {'bits': (32,)},
                {'mlp_128': (8, 16), 'lenet_300_100': (10, 20)}),
    'quant': ('bytes', {'sparsities': (0.0,)},
              {'mlp_128': (8, 16), 'lenet_300_100': (8, 16)}),
    'structured': ('flops', {'inputs': True},
                   {'mlp_128': (4, 10), 'lenet_300_100': (4, 10)}),
}
LABELS = {'auto': 'auto (sparsity + bits + sharing, knapsack)',
          'uniform': 'uniform allocation, same grid',
          'pruning': 'pruning alone (float32 values)',
          'quant': 'quantization alone (dense)',
          'structured': 'structured alone (shrunk, float32)'}

flags.DEFINE_string('models', 'mlp_128,lenet_300_100', 'models')
flags.DEFINE_string('seeds', '0,1,2', 'comma-separated seeds')
flags.DEFINE_string('rows', '', 'only these rows (comma-separated prefixes)')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('root', os.path.join(_REPO, 'workdirs', 'pareto'),
                    'where the runs go')
flags.DEFINE_string('out', '', 'where pareto.md / .png go (default: root)')
FLAGS = flags.FLAGS


def rows(model: str, root: str) -> list[Row]:
  cache = os.path.join(root, model, 'tables')
  out = [Row('baseline', auto_common.baseline(model), strategy='baseline')]

  def add(method, budget, ratio, **fields):
    c = auto_common.config(model, budget, ratio, table_cache=cache, **fields)
    out.append(Row(f'{method}_{ratio}x', c,
                   {'auto': {'baseline_workdir': '{row:baseline}'}},
                   strategy=method))

  for r in RATIOS[model]:
    add('auto', 'bytes', r)
    add('uniform', 'bytes', r, allocation='uniform')
  for method, (budget, fields, ratios) in SINGLE.items():
    for r in ratios[model]:
      add(method, budget, r, **fields)
  return out


def _bytes(r: dict) -> int:
  return r.get('compressed_file_bytes') or r['model_file_bytes']


def _seed(r: dict) -> str:
  return os.path.basename(r['workdir'])


def summarize(model: str, row: Row, res: list[dict]) -> dict:
  errors = [r['test_error'] for r in res]
  med = median_run(res)
  layers = med['plan']['layers'] if 'plan' in med else []
  return {
      'model': model, 'row': row.name, 'strategy': row.strategy,
      'seeds': len(res), 'error': statistics.median(errors),
      'errors': per_seed(errors),
      # {seed folder: error}: --table_only skips unfinished runs, so rows
      # are compared seed by seed on the seeds both have.
      'seed_errors': {_seed(r): r['test_error'] for r in res},
      'seed_vals': {_seed(r): r.get('val_error') for r in res},
      'bytes': _bytes(med),
      'val': (statistics.median(r['val_error'] for r in res)
              if all('val_error' in r for r in res) else None),
      'ratio': med.get('float_file_bytes', _bytes(med)) / _bytes(med),
      'within': sum(bool(r.get('within_budget', True)) for r in res),
      'plan': '; '.join(f"{c['layer'].split('/')[0]} {c['describe']}"
                        for c in layers),
      'wall': statistics.median(r.get('pipeline_wall_time_s',
                                      r.get('wall_time_s', 0)) for r in res),
  }


def table(summaries: list[dict]) -> str:
  lines = ['| model | method | row | seeds | test error (median; per seed) '
           '| validation error (median) | file bytes | x smaller '
           '| within budget | plan (median seed) | wall s / run |',
           '|---|---|---|---|---|---|---|---|---|---|---|']
  for s in summaries:
    lines.append(
        f"| {s['model']} | {LABELS.get(s['strategy'], s['strategy'])} | "
        f"{s['row']} | {s['seeds']} | {s['errors']} | "
        f"{'-' if s['val'] is None else format(s['val'], '.2%')} | "
        f"{s['bytes']:,} | "
        f"{s['ratio']:.1f}x | {s['within']}/{s['seeds']} | {s['plan']} | "
        f"{s['wall']:.0f} |")
  return '\n'.join(lines) + '\n'


def plans(model: str, row: Row, res: list[dict]) -> str:
  """The median seed's plan per layer, predicted against measured."""
  r = median_run(res)
  if 'layers_plan' not in r:
    return ''
  out = [f"{model} {row.name} (seed {r['config']['seed']}): validation loss "
         f"{r['baseline_val_loss']:.4f} trained; predicted with the plan "
         f"{r['predicted_val_loss']:.4f}, measured with the plan before "
         f"fine-tuning {r['one_shot_val_loss']:.4f}, after "
         f"{r['val_loss']:.4f}; file {r['predicted_file_bytes']:,.0f} bytes "
         f"predicted, {r['compressed_file_bytes']:,} written"
         + (f", {r['fit']['layer']} pruned further to "
            f"{r['fit']['sparsity']:.2%} (first file "
            f"{r['fit']['file_bytes_before']:,} bytes)" if r.get('fit')
            else ''), '',
         '| layer | weights | plan | clusters | predicted loss increase '
         '| predicted bytes | written bytes | sparsity written | distinct '
         'nonzero values |', '|---|---|---|---|---|---|---|---|---|']
  sizes = {c['layer']: c['size'] for c in r['plan']['layers']}
  for x in r['layers_plan']:
    out.append(
        f"| {x['layer']} | {sizes[x['layer']]:,} | {x['plan']} | "
        f"{x['clusters'] or 'float32'} | {x['predicted_delta_loss']:.4f} | "
        f"{x['predicted_bytes']:,.0f} | {x['measured_bytes']:,} | "
        f"{x['measured_sparsity']:.2%} | {x['distinct_nonzero_values']} |")
  return '\n'.join(out) + '\n\n'


def _seed_by_seed(model, pairs, key, what) -> str:
  """Auto against uniform per seed (each seed's rows share a baseline)."""
  signs = [[np.sign(a[key][s] - u[key][s]) for s in a[key] if s in u[key]]
           for a, u in pairs]
  detail = ', '.join(f"{a['row'][5:]}: {s.count(-1)}/{s.count(0)}/"
                     f"{s.count(1)}" for (a, _), s in zip(pairs, signs))
  return (f'{model}: seed by seed on {what}, auto better/equal/worse than '
          f'uniform ({detail})')


def verdict(summaries: list[dict]) -> str:
  out = []
  for model in dict.fromkeys(s['model'] for s in summaries):
    by = {s['row']: s for s in summaries if s['model'] == model}
    pairs = [(by[k], by['uniform' + k[4:]]) for k in by
             if k.startswith('auto_') and 'uniform' + k[4:] in by]
    wins = [a['error'] < u['error'] for a, u in pairs]
    detail = ', '.join(f"{a['row'][5:]}: {100 * a['error']:.2f}% vs "
                       f"{100 * u['error']:.2f}%" for a, u in pairs)
    out.append(f'{model}: auto beats uniform at {sum(wins)} of {len(wins)} '
               f'budgets on test error ({detail})')
    out.append(_seed_by_seed(model, pairs, 'seed_errors', 'test error'))
    if all(a['val'] is not None and u['val'] is not None for a, u in pairs):
      wins = [a['val'] < u['val'] for a, u in pairs]
      detail = ', '.join(f"{a['row'][5:]}: {100 * a['val']:.2f}% vs "
                         f"{100 * u['val']:.2f}%" for a, u in pairs)
      out.append(f'{model}: on validation error (the split the plans are '
                 f'chosen on), {sum(wins)} of {len(wins)} ({detail})')
      out.append(_seed_by_seed(model, pairs, 'seed_vals', 'validation error'))
  return '\n'.join(out) + '\n'


def plot(summaries: list[dict], path: str) -> None:
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  models = list(dict.fromkeys(s['model'] for s in summaries))
  fig, axes = plt.subplots(1, len(models), figsize=(6.5 * len(models), 4.5),
                           squeeze=False)
  for ax, model in zip(axes[0], models):
    ms = [s for s in summaries if s['model'] == model]
    for strategy in dict.fromkeys(s['strategy'] for s in ms):
      pts = sorted((s for s in ms if s['strategy'] == strategy),
                   key=lambda s: s['bytes'])
      style = '-o' if strategy in ('auto', 'uniform') else '--s'
      if strategy == 'baseline':
        style = '*'
      ax.plot([p['bytes'] for p in pts], [100 * p['error'] for p in pts],
              style, label=LABELS.get(strategy, strategy), ms=6)
    ax.set_xscale('log')
    ax.set_xlabel('file bytes')
    ax.set_ylabel('test error (%), median of seeds')
    ax.set_title(model)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
  fig.tight_layout()
  report.save_png(fig, path)


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  prefixes = [p for p in FLAGS.rows.split(',') if p]
  summaries, plan_text = [], ''
  for model in FLAGS.models.split(','):
    rs = [r for r in rows(model, FLAGS.root)
          if r.name == 'baseline' or not prefixes
          or any(r.name.startswith(p) for p in prefixes)]
    runs = run_rows(rs, seeds, os.path.join(FLAGS.root, model),
                    run=not FLAGS.table_only)
    summaries += [summarize(model, r, runs[r.name]) for r in rs
                  if runs[r.name]]
    plan_text += ''.join(plans(model, r, runs[r.name]) for r in rs
                         if runs[r.name] and r.strategy in ('auto',
                                                            'uniform'))
  out = FLAGS.out or FLAGS.root
  os.makedirs(out, exist_ok=True)
  text = table(summaries) + '\n' + verdict(summaries)
  files.atomic_write(os.path.join(out, 'pareto.md'), text.encode())
  files.atomic_write(os.path.join(out, 'plans.md'), plan_text.encode())
  plot(summaries, os.path.join(out, 'pareto.png'))
  print(text)


if __name__ == '__main__':
  app.run(main)
