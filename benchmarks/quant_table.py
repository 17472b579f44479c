"""Runs the quantization experiments and prints their tables.

  python benchmarks/quant_table.py [--table_only] [--root=workdirs/quant]

Each experiment (experiments/configs/quant_*.py, the `ptq` pipeline) runs
through the suite runner into <root>/<name>/seed0 (finished runs reused
after their identity check). One row per PTQ / QAT variant: the test error
of the model actually evaluated (the integer model when inputs are
quantized, else the dequantized weight-only model), its change against the
float model in points, the weight-only error, whether the integer model's
logits are bit-identical to the fake-quant evaluation, the file bytes and
ratio to the float32 file, and the error after loading the file.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), os.path.join(os.path.dirname(_HERE),
                                                     'experiments')]

from absl import app, flags  # noqa: E402
from configs import (  # noqa: E402
    quant_lenet5,
    quant_lenet_300_100,
    quant_mlp_128_affine,
)

from jaxcompress.pipelines.suite import Row, pct, run_rows  # noqa: E402

flags.DEFINE_bool('table_only', False, 'do not run, only tabulate')
flags.DEFINE_string('root', os.path.join(os.path.dirname(_HERE), 'workdirs',
                                         'quant'), 'where the runs go')
FLAGS = flags.FLAGS


def rows_of(name, r):
  f = r['float_test_error']
  n = f" ({r['test_images']:,} test images)" if 'test_images' in r else ''
  out = [f'\n### {name} ({r["model"]}): float test error {pct(f)}{n}\n',
         '| stage | variant | error | vs float (points) | weight-only error '
         '| integer = fake-quant bit-exact | file bytes | x float32 file '
         '| error after load |',
         '|---|---|---|---|---|---|---|---|---|']
  for stage in ('ptq', 'qat'):
    for variant, v in r[stage].items():
      err = v['integer_error']
      exact = ('yes' if v['integer_bit_exact'] else
               f"no (max diff {v['integer_max_abs_logit_diff']:.2g})")
      if not v['integer_layers']:
        exact += ' (weights only)'
      out.append(
          f"| {stage.upper()} | {variant} | {pct(err)} | "
          f"{100 * (err - f):+.2f} | {pct(v['weight_only_error'])} | "
          f"{exact} | {v.get('file_bytes', '')} | "
          f"{v.get('size_ratio', float('nan')):.3f} | "
          f"{pct(v['loaded_error']) if 'loaded_error' in v else ''} |")
  return out


def main(argv):
  del argv
  rows = [Row('quant_mlp_128_affine', quant_mlp_128_affine.get_config()),
          Row('quant_lenet_300_100', quant_lenet_300_100.get_config()),
          Row('quant_lenet5', quant_lenet5.get_config())]
  runs = run_rows(rows, [0], FLAGS.root, run=not FLAGS.table_only)
  for row in rows:
    for r in runs[row.name]:
      print('\n'.join(rows_of(row.name, r)))


if __name__ == '__main__':
  app.run(main)
