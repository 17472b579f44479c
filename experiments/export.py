"""Exports a finished run's model to LiteRT and evaluates it there.

  python experiments/export.py --workdir=workdirs/lenet_300_100 \
      --format=litert --quantize=int8

writes workdirs/lenet_300_100/model_int8.tflite (atomically) and prints, as
JSON, its size, its MNIST test error in the LiteRT interpreter, its batch-1
latency (1 thread), and its agreement with the JAX model it came from (the
integer model for QAT/PTQ int8 exports, which carry the run's own scales;
the converter-calibrated file's figures are printed beside them).
`--quantize` is none (float32), dynamic (int8 weights, float activations)
or int8 (full integer). The kinds of run it reads are listed in
jaxcompress/export/runs.py.
"""

import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'A finished run (its results.json), or '
                    'a PTQ/QAT variant folder of a quantization sweep.')
flags.DEFINE_enum('format', 'litert', ['litert'], 'Export format.')
flags.DEFINE_enum('quantize', 'none', ['none', 'dynamic', 'int8'],
                  'Quantization of the exported file.')
flags.DEFINE_bool('sparse', False, "Also apply the converter's sparsity "
                  'encoding (EXPERIMENTAL_SPARSITY).')
flags.DEFINE_bool('evaluate', True, 'Measure test error and latency.')
flags.DEFINE_integer('repeats', 300, 'Latency: calls timed (median).')
flags.mark_flag_as_required('workdir')


def main(argv):
  del argv
  from jaxcompress.export import litert, runs
  run = runs.load(FLAGS.workdir)
  ds = runs.dataset(run)
  tflite, info = runs.export(run, FLAGS.quantize, ds, sparse=FLAGS.sparse)
  suffix = '_sparse' if FLAGS.sparse else ''
  path = os.path.join(FLAGS.workdir, f'model_{FLAGS.quantize}{suffix}.tflite')
  summary = {'file': path, 'kind': run.kind,
             'bytes': runs.write_atomic(path, tflite),
             'int8_grid': info.get('int8_grid')}
  if FLAGS.evaluate:
    summary.update(runs.evaluate(run, tflite, info, ds))
    summary['litert_b1_ms_1_thread'] = litert.latency_ms(
        tflite, ds.test_images[:1], 1, FLAGS.repeats)
  print(json.dumps(summary, indent=1, default=str))


if __name__ == '__main__':
  app.run(main)
