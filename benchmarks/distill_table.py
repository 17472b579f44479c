"""Runs the small-MLP distillation rows over seeds and prints their table.

  python benchmarks/distill_table.py --seeds=0,1,2

Each row is `python experiments/main.py
--config=experiments/configs/distill_mlp.py:ARG` into
workdirs/distill/<row>_s<seed>; finished runs (a results.json) are reused.
The table gives the median test error over the seeds (and each seed's).
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app, flags

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = 'experiments/configs/distill_mlp.py'

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
flags.DEFINE_string('root', os.path.join(REPO, 'workdirs', 'distill'),
                    'where the runs go')
FLAGS = flags.FLAGS


def _run(row, arg, seed):
  wd = os.path.join(FLAGS.root, f'{row}_s{seed}')
  path = os.path.join(wd, 'results.json')
  if not os.path.exists(path):
    cmd = [sys.executable, 'experiments/main.py', f'--config={CONFIG}:{arg}',
           f'--workdir={wd}', f'--config.seed={seed}']
    print('+', ' '.join(cmd), flush=True)
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
  with open(path) as f:
    return json.load(f)


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  lines = ['| row | student | published | seeds | test error (median; per '
           'seed) | teacher error | params | wall s / run |',
           '|---|---|---|---|---|---|---|---|']
  for row, arg, published in ROWS:
    res = [_run(row, arg, s) for s in seeds]
    errs = [r['test_error'] for r in res]
    teacher = res[0].get('teacher_test_error')
    lines.append(
        f"| {row} | {res[0]['model']} | {published} | {len(res)} | "
        f'{100 * statistics.median(errs):.2f}% ('
        + ', '.join(f'{100 * e:.2f}%' for e in errs) + ') | '
        + (f'{100 * teacher:.2f}%' if teacher is not None else '-')
        + f" | {res[0]['num_params']:,} | "
        f"{statistics.median(r['wall_time_s'] for r in res):.0f} |")
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
