"""experiments/main.py whose process 1 dies (os._exit) as it is about to
save the checkpoint of step 20: a host lost mid-run."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO, os.path.join(REPO, 'experiments')]

from jaxcompress.train import checkpoints  # noqa: E402

_real = checkpoints.save_args


def _die_at_20(state):
  import jax
  if int(state.step) == 20 and jax.process_index() == 1:
    os._exit(9)
  return _real(state)


checkpoints.save_args = _die_at_20

import main  # noqa: E402
from absl import app  # noqa: E402

if __name__ == '__main__':
  app.run(main.main)
