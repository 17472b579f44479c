"""Runs the quantization experiments and prints their tables.

  python benchmarks/quant_table.py [--table_only] [--root=workdirs/quant]
  python benchmarks/quant_table.py --rows=quant_lenet5_lsq --seeds=0,1,2 \
      --root=workdirs

Each experiment (experiments/configs/quant_*.py, the `ptq` pipeline) runs
through the suite runner into <root>/<name>/seed<seed> (finished runs reused
after their identity check). With several seeds, a first table gives each
variant's integer-model error as the median over seeds, each seed listed. One row per PTQ / QAT variant: the test error
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
    quant_lenet5_lsq,
    quant_lenet_300_100,
    quant_mlp_128_affine,
)

from jaxcompress.pipelines.suite import (  # noqa: E402
    Row,
    pct,
    per_seed,
    run_rows,
)

CONFIGS = {'quant_mlp_128_affine': quant_mlp_128_affine,
           'quant_lenet_300_100': quant_lenet_300_100,
           'quant_lenet5': quant_lenet5, 'quant_lenet5_lsq': quant_lenet5_lsq}

flags.DEFINE_string('rows', 'quant_mlp_128_affine,quant_lenet_300_100,'
                    'quant_lenet5', 'comma-separated experiments')
flags.DEFINE_string('seeds', '0', 'comma-separated seeds')
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


def medians(name, res) -> list[str]:
  """Each variant's integer-model error over seeds (median; per seed)."""
  out = [f'\n### {name}: integer-model test error over {len(res)} seeds\n',
         '| stage | variant | error (median; per seed) | float error '
         '| bit-exact in every seed | file bytes |', '|---|---|---|---|---|---|']
  for stage in ('ptq', 'qat'):
    for variant in res[0][stage]:
      runs = [r[stage][variant] for r in res]
      out.append(
          f"| {stage.upper()} | {variant} | "
          f"{per_seed([v['integer_error'] for v in runs])} | "
          f"{per_seed([r['float_test_error'] for r in res])} | "
          f"{all(v['integer_bit_exact'] for v in runs)} | "
          f"{runs[0].get('file_bytes', '')} |")
  return out


def main(argv):
  del argv
  rows = [Row(n, CONFIGS[n].get_config()) for n in FLAGS.rows.split(',')]
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  runs = run_rows(rows, seeds, FLAGS.root, run=not FLAGS.table_only)
  for row in rows:
    res = runs[row.name]
    if len(res) > 1:
      print('\n'.join(medians(row.name, res)))
    for seed, r in zip(seeds, res):
      print('\n'.join(rows_of(f'{row.name} seed {seed}', r)))


if __name__ == '__main__':
  app.run(main)
