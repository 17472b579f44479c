"""Runs the small-MLP distillation rows over seeds and prints their table.

  python benchmarks/distill_table.py --seeds=0,1,2

Each row is experiments/configs/distill_mlp.py with its argument, run by the
suite runner into workdirs/distill/<row>/seed<seed> (finished runs reused
after their identity check). The table gives the median test error over the
seeds (and each seed's).
"""

import os
import statistics
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), os.path.join(os.path.dirname(_HERE),
                                                     'experiments')]

from absl import app, flags  # noqa: E402
from configs import distill_mlp  # noqa: E402

from jaxcompress.pipelines.suite import Row, per_seed, run_rows  # noqa: E402

ROWS = [  # (row, config argument, published)
    ('mlp_64_alone', 'mlp_64,alone', 'write-ups: student alone'),
    ('mlp_64_T4', 'mlp_64,4', 'write-ups: distilled student'),
    ('mlp_64_T4_hint', 'mlp_64,4,hint', '(hint variant)'),
    ('mlp_30_30_alone', 'mlp_30_30,alone', 'Hinton 2015: 30 units'),
    ('mlp_30_30_T2.5', 'mlp_30_30,2.5', 'Hinton 2015: T 2.5-4 best'),
    ('mlp_30_30_T4', 'mlp_30_30,4', 'Hinton 2015: T 2.5-4 best'),
    ('mlp_30_30_T8', 'mlp_30_30,8', 'Hinton 2015: worse than 2.5-4'),
]

flags.DEFINE_string('seeds', '0', 'comma-separated seeds')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('root', os.path.join(os.path.dirname(_HERE), 'workdirs',
                                         'distill'), 'where the runs go')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  rows = [Row(name, distill_mlp.get_config(arg), published=pub)
          for name, arg, pub in ROWS]
  runs = run_rows(rows, seeds, FLAGS.root, run=not FLAGS.table_only)
  lines = ['| row | student | published | seeds | test error (median; per '
           'seed) | teacher error | params | wall s / run |',
           '|---|---|---|---|---|---|---|---|']
  for row in rows:
    res = runs[row.name]
    if not res:
      continue
    teacher = res[0].get('teacher_test_error')
    wall = statistics.median(r.get('pipeline_wall_time_s', r['wall_time_s'])
                             for r in res)
    lines.append(
        f"| {row.name} | {res[0]['model']} | {row.published} | {len(res)} | "
        f"{per_seed([r['test_error'] for r in res])} | "
        + (f'{100 * teacher:.2f}%' if teacher is not None else '-')
        + f" | {res[0]['num_params']:,} | {wall:.0f} |")
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
