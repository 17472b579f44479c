"""Runs the comparison suite and writes comparison.md, .csv and .png.

  python experiments/compare.py --quick --workdir=workdirs/quick
  python experiments/compare.py --workdir=workdirs/compare

The suite is experiments/configs/compare.py; finished runs are reused after
their run store has checked they ran the same config, so an interrupted
suite picks up where it stopped.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]

import process_flags  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from configs import compare as suite_config  # noqa: E402

flags.DEFINE_string('workdir', None, 'Where runs and the tables go.')
flags.DEFINE_bool('quick', False, 'Short preset: 3 epochs, one seed.')
flags.mark_flag_as_required('workdir')
FLAGS = flags.FLAGS


def main(argv):
  del argv
  logging.get_absl_handler().addFilter(lambda r: 'orbax' not in r.pathname)
  process_flags.initialize()   # before anything touches a device
  from jaxcompress.pipelines import compare
  suite = suite_config.get_config('quick' if FLAGS.quick else 'full')
  try:
    compare.run_comparison(suite, FLAGS.workdir)
  except (ValueError, RuntimeError, OSError) as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    sys.exit(1)
  with open(os.path.join(FLAGS.workdir, 'comparison.md')) as f:
    print(f.read())


if __name__ == '__main__':
  app.run(main)
