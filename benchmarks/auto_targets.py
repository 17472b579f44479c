"""The adaptive-compression configs over seeds, on shared baselines; table.

  python benchmarks/auto_targets.py --seeds=0,1,2 [--rows=...]

Each row is an experiments/configs/auto_*.py config run through the suite
runner into <root>/<model>/<row>/seed<s>, its `auto.baseline_workdir`
pointing at the seed's baseline row (the same runs benchmarks/pareto.py
uses: experiments/configs/auto_baseline.py), so a baseline trains once per
seed. A config that names a `BASELINE` (a key of auto_common.BASELINES,
when it compresses another baseline than its model's own) gets that one
trained as row baseline_<key> instead; one that names a `TEACHER` gets
that baseline trained beside it as row teacher_<key>, and
`auto.teacher_workdir` pointing at it. The table gives the final model's test error (the file decoded, or
the shrunk model; median over seeds, each listed), its bytes and ratio to
the float32 model.msgpack (bytes budgets) or its FLOPs ratio (FLOPs
budgets), the median seed's plan, and the wall time per run. Latency
budgets get a second table: the trained model's LiteRT file timed beside
the dense one (batch 1, one thread), its speed-up per seed, the median
seed's predicted and measured ms and the plans measured before one fit.
"""

import importlib
import os
import statistics
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)
sys.path[:0] = [_REPO, os.path.join(_REPO, 'experiments')]

from absl import app, flags  # noqa: E402
from configs import auto_common  # noqa: E402

from jaxcompress.pipelines.suite import (  # noqa: E402
    Row,
    median_run,
    per_seed,
    run_rows,
)

ROWS = {  # config module: the published row it is set beside
    'auto_lenet300_bytes_64x': 'target >= 64x at <= 1.6%; Deep Compression '
                               '40x at 1.58%, soft weight-sharing 64x at '
                               '1.94%',
    'auto_lenet5_bytes_100x': 'target >= 100x at <= 0.9%; Deep Compression '
                              '39x at 0.74%, soft weight-sharing 162x at '
                              '0.97%',
    'auto_lenet5_bytes_162x': 'best ratio at <= 1.0%; soft weight-sharing '
                              '162x at 0.97%',
    'auto_lenet300_flops_10x': 'L0 266-88-33 at 1.6% (ours, hand-set: '
                               '1.77% at 9.99x)',
    'auto_mlp128_bytes_32x': 'compare.py combined row: 2.41% at 12,146 '
                             'bytes',
    'auto_mlp128_flops_4x': '-',
    'auto_lenet300_bytes_64x_lenet5_teacher': 'target >= 64x at <= 1.6%; '
                                              'distilled from LeNet-5',
    'auto_lenet300_bytes_96x_lenet5_teacher': 'best ratio at <= 1.8%; '
                                              'distilled from LeNet-5',
    'auto_lenet300_bytes_112x_lenet5_teacher': 'best ratio at <= 1.8%; '
                                               'distilled from LeNet-5',
    'auto_lenet300_bytes_128x_lenet5_teacher': 'best ratio at <= 1.8%; '
                                               'distilled from LeNet-5',
    'auto_lenet300_bytes_64x_dense_teacher': 'target >= 64x at <= 1.6%; '
                                             'distilled from a dense '
                                             'LeNet-300-100 (dropout, '
                                             'translations)',
    'auto_lenet300_bytes_96x_dense_teacher': 'best ratio at <= 1.8%; '
                                             'distilled from a dense '
                                             'LeNet-300-100 (dropout, '
                                             'translations)',
    'auto_lenet300_bytes_112x_dense_teacher': 'best ratio at <= 1.8%; '
                                              'distilled from a dense '
                                              'LeNet-300-100 (dropout, '
                                              'translations)',
    'auto_lenet300_bytes_128x_dense_teacher': 'best ratio at <= 1.8%; '
                                              'distilled from a dense '
                                              'LeNet-300-100 (dropout, '
                                              'translations)',
    'auto_lenet300_augmented_bytes_64x': 'target >= 64x at <= 1.6%; '
                                         'a dense LeNet-300-100 trained '
                                         'with dropout and translations',
    'auto_lenet300_latency_3x': '-',
    'auto_lenet5_latency_3x': '-',
}

flags.DEFINE_string('seeds', '0,1,2', 'comma-separated seeds')
flags.DEFINE_string('rows', ','.join(ROWS), 'comma-separated configs')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('root', os.path.join(_REPO, 'workdirs', 'pareto'),
                    'where the runs go (the Pareto baselines are shared)')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  print('| config | budget | compared with | seeds | test error (median; '
        'per seed) | bytes | x smaller (file) | x fewer FLOPs | plan '
        '(median seed) | wall s / run |')
  print('|---|---|---|---|---|---|---|---|---|---|')
  latency = []
  for name in FLAGS.rows.split(','):
    module = importlib.import_module(f'configs.{name}')
    config = module.get_config()
    model = config.model
    tables = os.path.join(FLAGS.root, model, 'tables')
    base = getattr(module, 'BASELINE', model)
    rows = [Row('baseline' if base == model else f'baseline_{base}',
                auto_common.baseline(base))]
    given = {'baseline_workdir': f'{{row:{rows[0].name}}}',
             'table_cache': tables}
    teacher = getattr(module, 'TEACHER', None)
    if teacher:  # another model's baseline, trained per seed, as the teacher
      rows.append(Row(f'teacher_{teacher}', auto_common.baseline(teacher)))
      given['teacher_workdir'] = f'{{row:teacher_{teacher}}}'
    rows.append(Row(name, config, {'auto': given}))
    res = run_rows(rows, seeds, os.path.join(FLAGS.root, model),
                   run=not FLAGS.table_only)[name]
    if not res:
      continue
    med = median_run(res)
    kind = med['plan']['kind']
    nbytes = med.get('compressed_file_bytes') or med['model_file_bytes']
    plan = '; '.join(f"{c['layer'].split('/')[0]} {c['describe']}"
                     for c in med['plan']['layers'])
    wall = statistics.median(r['pipeline_wall_time_s'] for r in res)
    flops = med.get('flops_ratio', med['flops_dense'] / max(med['flops'], 1))
    print(f"| {name} | {med['config']['auto']['budget_ratio']:g}x {kind} | "
          f"{ROWS.get(name, '')} | {len(res)} | "
          f"{per_seed([r['test_error'] for r in res])} | {nbytes:,} | "
          f"{med['float_file_bytes'] / nbytes:.1f}x | {flops:.1f}x | {plan} "
          f"| {wall:.0f} |")
    if kind == 'latency':
      latency.append((name, res, med, plan))
  if latency:
    _latency_table(latency)


def _latency_table(rows) -> None:
  print()
  print('| config | budget | seeds | test error (median; per seed) | x faster '
        'file, measured (median; per seed) | within budget | predicted ms '
        '| measured ms | dense ms | plans measured | plan (median seed) |')
  print('|---|---|---|---|---|---|---|---|---|---|---|')
  for name, res, med, plan in rows:
    speed = [r['speedup'] for r in res]
    tried = med['latency']['plans_measured']
    print(f"| {name} | {med['config']['auto']['budget_ratio']:g}x faster | "
          f"{len(res)} | {per_seed([r['test_error'] for r in res])} | "
          f"{statistics.median(speed):.2f}x "
          f"({', '.join(f'{v:.2f}x' for v in speed)}) | "
          f"{sum(r['within_budget'] for r in res)}/{len(res)} | "
          f"{med['predicted_latency_ms']:.4f} | "
          f"{med['latency_ms_file']:.4f} | {med['dense_latency_ms']:.4f} | "
          f"{len(tried)} | {plan} |")


if __name__ == '__main__':
  app.run(main)
