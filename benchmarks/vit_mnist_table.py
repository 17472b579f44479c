"""Tabulates the MNIST ViT runs of issue 13 (median of seeds, each seed).

  python benchmarks/vit_mnist_table.py [--root=workdirs] [--seeds=0,1,2]

Reads the finished runs the configs' docstrings start (vit_mnist.py,
vit_mnist_gmp.py:0.5 / :0.8, vit_mnist_quant.py), from
<root>/vit_mnist_s<seed>, vit_mnist_gmp5_s<seed>, vit_mnist_gmp8_s<seed>
and vit_mnist_quant_s<seed>. Each row: the test error (median over the
seeds, then each seed), its change against the dense model of the same seed
in points (median), what was removed or quantized, and the run's wall time
(median; for QAT the fine-tuning's). The targets of issue 13 are checked on the medians.
"""

import json
import os
import statistics
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE)]

from absl import app, flags  # noqa: E402

from jaxcompress.pipelines.suite import pct, per_seed  # noqa: E402

flags.DEFINE_string('root', os.path.join(os.path.dirname(_HERE), 'workdirs'),
                    'where the runs are')
flags.DEFINE_string('seeds', '0,1,2', 'comma-separated seeds')
FLAGS = flags.FLAGS


def _load(name):
  with open(os.path.join(FLAGS.root, name, 'results.json')) as f:
    return json.load(f)


def _row(what, detail, errors, dense, wall=None):
  delta = statistics.median(100 * (e - d) for e, d in zip(errors, dense))
  wall = f'{statistics.median(wall):.0f} s' if wall else '-'
  return (f'| {what} | {detail} | {per_seed(errors)} | {delta:+.2f} | '
          f'{wall} |')


def main(argv):
  del argv
  seeds = [int(s) for s in FLAGS.seeds.split(',')]
  dense = [_load(f'vit_mnist_s{s}') for s in seeds]
  gmp = {p: [_load(f'vit_mnist_gmp{p}_s{s}') for s in seeds] for p in '58'}
  quant = [_load(f'vit_mnist_quant_s{s}') for s in seeds]
  d_err = [r['test_error'] for r in dense]
  lines = [f'ViT (vit_tiny, patch 7, {dense[0]["num_params"]:,} params) on '
           f'MNIST, seeds {FLAGS.seeds}', '',
           '| model | what | test error (median; per seed) | vs dense '
           '(points, median) | wall time / run (median) |',
           '|---|---|---|---|---|',
           _row('dense', '15 epochs, 2-pixel jitter', d_err, d_err,
                [r['wall_time_s'] for r in dense])]
  for p, runs in gmp.items():
    block = [r['pruning']['pruned_layers']['sparsity'] for r in runs]
    total = [r['pruning']['total']['sparsity'] for r in runs]
    lines.append(_row(
        f'GMP {p}0%', f'block kernels {pct(statistics.median(block))} '
        f'removed ({pct(statistics.median(total))} of all weights); '
        '5 epochs from dense', [r['test_error'] for r in runs], d_err,
        [r['wall_time_s'] for r in runs]))
  for kind, name, detail in (
      ('ptq', 'w8_channel', 'int8 weights only (dequantized)'),
      ('ptq', 'w8a8_channel', 'int8 weights + inputs, integer model'),
      ('ptq', 'w4a8_channel', 'int4 weights + int8 inputs, integer model'),
      ('qat', 'w4a8_channel', 'int4 weights + int8 inputs, 2 epochs QAT, '
       'integer model')):
    rs = [q[kind][name] for q in quant]
    errs = [r.get('integer_error', r.get('weight_only_error')) for r in rs]
    exact = all(r.get('integer_bit_exact', False) for r in rs)
    if name != 'w8_channel':
      detail += ', bit-exact' if exact else ', NOT bit-exact'
    detail += f", file {statistics.median(r['size_ratio'] for r in rs):.2f}x"
    wall = (None if kind == 'ptq' else
            [q['qat'][name]['train_wall_time_s'] for q in quant])
    label = f"{'PTQ' if kind == 'ptq' else 'QAT'} {name}"
    lines.append(_row(label, detail, errs, d_err, wall))
  med = lambda xs: statistics.median(xs)
  ptq8 = [q['ptq']['w8a8_channel']['integer_error'] for q in quant]
  g5 = [r['test_error'] for r in gmp['5']]
  pipe = statistics.median(q['pipeline_wall_time_s'] for q in quant)
  lines += ['', f'The quantization pipeline (three PTQ variants, each with '
            f'its integer model and file, and the QAT fine-tuning) took '
            f'{pipe:.0f} s per seed (median); QAT rows give the '
            'fine-tuning alone.',
            '', 'Targets (issue 13), on the medians: dense '
            f"{pct(med(d_err))} <= 2.00%: {med(d_err) <= 0.02}; int8 PTQ "
            f"within 0.1 point: {abs(med(ptq8) - med(d_err)) <= 0.001 + 1e-9}"
            f"; 50% GMP within 0.3 point: "
            f"{med(g5) - med(d_err) <= 0.003 + 1e-9}"]
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
