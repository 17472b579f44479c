"""Runs one experiment: a config file, a workdir, and the config's pipeline.

  python experiments/main.py --config=experiments/configs/lenet_300_100.py \
      --workdir=workdirs/lenet_300_100 [--config.num_epochs=1 ...]

The pipeline (`config.pipeline`: 'train', 'lottery', 'ptq',
'prune_shrink_finetune' or 'teacher_student') trains, evaluates, checkpoints
and writes workdir/results.json. Running the same command again resumes from
the last checkpoint, or reports a finished run and keeps its results. A run
that cannot go on (a bad setting, a diverged loss, a locked or foreign
workdir) exits with status 1 and one line naming the cause.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(_HERE), _HERE]  # jaxcompress, and configs.*

import process_flags  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

FLAGS = flags.FLAGS
config_flags.DEFINE_config_file('config', None, 'Experiment config file.',
                                lock_config=True)
flags.DEFINE_string('workdir', None, 'Directory for checkpoints and results.')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  del argv
  # Orbax logs every save at INFO; keep the run's own progress readable.
  logging.get_absl_handler().addFilter(lambda r: 'orbax' not in r.pathname)
  process_flags.initialize()   # before anything touches a device
  import jax

  from jaxcompress import files, pipelines
  logging.info('JAX devices: %s', jax.devices())
  try:
    _, results = pipelines.run(FLAGS.config, FLAGS.workdir)
  except (ValueError, RuntimeError, OSError) as e:
    print(f'error: {e}', file=sys.stderr, flush=True)
    sys.exit(1)
  summary = {k: v for k, v in results.items()
             if k not in ('config', 'layers', 'history')}
  print(files.to_json(summary))


if __name__ == '__main__':
  app.run(main)
