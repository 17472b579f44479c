"""Runs Deep Compression on LeNet-300-100 and LeNet-5 over seeds; its table.

  python benchmarks/deep_compression_table.py --seeds=0,1,2 [--rows=...]

Each row (experiments/configs/deep_compression_*.py: Han et al.'s iterative
pruning, then weight sharing, sparse index gaps and LZMA into a real file)
runs through the suite runner into workdirs/deep_compression/<row>/seed<s>.
The LeNet-5 row starts from the trained baseline in workdirs/lenet5. The
table gives the decoded file's test error (median over seeds, each listed),
the file's bytes and its ratio to the float32 model.msgpack (of the median
seed), beside the published rows.
"""

import os
import statistics
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), os.path.join(os.path.dirname(_HERE),
                                                     'experiments')]

from absl import app, flags  # noqa: E402
from configs import (  # noqa: E402
    deep_compression_lenet5,
    deep_compression_lenet_300_100,
)

from jaxcompress.pipelines.suite import (  # noqa: E402
    Row,
    median_run,
    per_seed,
    run_rows,
)

ROWS = {
    'deep_compression_lenet_300_100': (
        deep_compression_lenet_300_100, 'Han 2016: 1.64% -> 1.58%, 27 KB, 40x'),
    'deep_compression_lenet5': (
        deep_compression_lenet5, 'Han 2016: 0.80% -> 0.74%, 44 KB, 39x'),
}

flags.DEFINE_string('seeds', '0', 'comma-separated seeds')
flags.DEFINE_string('rows', ','.join(ROWS), 'comma-separated rows')
flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('root', os.path.join(os.path.dirname(_HERE), 'workdirs',
                                         'deep_compression'),
                    'where the runs go')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  rows = [Row(n, ROWS[n][0].get_config(), published=ROWS[n][1])
          for n in FLAGS.rows.split(',')]
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  runs = run_rows(rows, seeds, FLAGS.root, run=not FLAGS.table_only)
  print('| run | published | seeds | decoded file error (median; per seed) '
        '| error before sharing | nonzero weights | file bytes | x smaller '
        'than float32 | wall s / run |')
  print('|---|---|---|---|---|---|---|---|---|')
  for row in rows:
    res = runs[row.name]
    if not res:
      continue
    med = median_run(res, 'compressed_test_error')
    wall = statistics.median(r['wall_time_s'] for r in res)
    print(f"| {row.name} | {row.published} | {len(res)} | "
          f"{per_seed([r['compressed_test_error'] for r in res])} | "
          f"{per_seed([r['float_test_error'] for r in res])} | "
          f"{med['nonzero_params']:,} | {med['compressed_file_bytes']:,} | "
          f"{med['compression_ratio']:.1f}x | {wall:.0f} |")


if __name__ == '__main__':
  app.run(main)
