"""Training: the compiled step, the run store, and the loop.

  step    TrainState, the jit-able train step, scanned epochs, evaluation
  store   everything that reads or writes a workdir (identity, lock,
          verified checkpoints, atomic results, finished runs)
  loop    `train_and_evaluate(config, workdir)`: config in, trained state out
"""

from jaxcompress.saved_runs import load_init, load_run
from jaxcompress.train.feed import load_data
from jaxcompress.train.loop import DivergedError, collapsed, train_and_evaluate
from jaxcompress.train.step import (
    TRACE_COUNTS,
    TrainState,
    create_train_state,
    data_mesh,
    make_evaluate,
    make_train_chunk,
    make_train_step,
)
from jaxcompress.train.store import RunError, RunStore

__all__ = [
    'TRACE_COUNTS', 'DivergedError', 'RunError', 'RunStore', 'TrainState',
    'collapsed',
    'create_train_state', 'data_mesh', 'load_data', 'load_init', 'load_run',
    'make_evaluate', 'make_train_chunk', 'make_train_step',
    'train_and_evaluate',
]
