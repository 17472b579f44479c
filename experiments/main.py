"""Runs one experiment: a config file, a workdir, and the config's entry.

  python experiments/main.py --config=experiments/configs/lenet_300_100.py \
      --workdir=workdirs/lenet_300_100 [--config.num_epochs=1 ...]

The entry (`config.entry`, default jaxcompress.train:train_and_evaluate)
trains, evaluates, checkpoints and writes workdir/results.json. Running the
same command again on the same workdir resumes from the last checkpoint.
"""

import importlib
import json
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]  # jaxcompress, and configs.*

from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file.',
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and results.')
flags.mark_flags_as_required(['config', 'workdir'])


def resolve(entry: str):
  module, _, fn = entry.partition(':')
  return getattr(importlib.import_module(module), fn)


def main(argv):
  del argv
  # Orbax logs every save at INFO; keep the run's own progress readable.
  logging.get_absl_handler().addFilter(lambda r: 'orbax' not in r.pathname)
  import jax
  logging.info('JAX devices: %s', jax.devices())
  _, results = resolve(FLAGS.config.entry)(FLAGS.config, FLAGS.workdir)
  summary = {k: v for k, v in results.items() if k not in ('config', 'layers', 'history')}
  print(json.dumps(summary, indent=1, default=str))


if __name__ == '__main__':
  app.run(main)
