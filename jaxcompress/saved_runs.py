"""Reading what finished runs left on disk: their model and results.

A finished run's workdir holds results.json (the results, the resolved
config and the input shape) and model.msgpack (the final variables).
`load_run` gives back (model, variables, results); `load_init` reads a
model file into the variables of a freshly initialized model, refusing a
file of another model by naming the array that differs. Writing is the run
store's job (`jaxcompress.train.store`); reading is here, below every layer
that needs it (a distillation teacher, PTQ of a finished float run, export).
"""

from __future__ import annotations

import os
from typing import Any

import flax
import flax.serialization
import jax
import numpy as np

from jaxcompress import files, models
from jaxcompress.rules import named_leaves


def load_init(path: str, variables: dict) -> dict:
  """Variables saved by an earlier run, checked against this model's.

  Args:
    path: a `model.msgpack` (as every run writes), or a workdir holding one.
    variables: the freshly initialized variables of the configured model.

  Raises:
    ValueError: a missing or damaged file, or one holding another model's
      variables (a different set of arrays or a different shape), naming
      the array.
  """
  if os.path.isdir(path):
    path = os.path.join(path, 'model.msgpack')
  if not os.path.exists(path):
    raise ValueError(f'init_from: no such file {path!r}')
  with open(path, 'rb') as f:
    try:
      loaded = flax.serialization.msgpack_restore(f.read())
    except Exception as e:  # noqa: BLE001
      raise ValueError(f'init_from {path!r} is damaged or not a model file '
                       f'({type(e).__name__})') from None
  check_same_arrays(variables, loaded, f'init_from {path!r}')
  return jax.tree.map(lambda v, x: np.asarray(x, np.asarray(v).dtype),
                      variables, flax.serialization.from_state_dict(
                          variables, loaded))


def check_same_arrays(want_tree, got_tree, what: str) -> None:
  """Raises ValueError naming the first array that is missing, unexpected
  or of another shape."""
  want = dict(named_leaves(want_tree))
  got = dict(named_leaves(got_tree))
  for name in sorted(set(want) | set(got)):
    if name not in got or name not in want:
      where = 'missing from' if name not in got else 'unexpected in'
      raise ValueError(f'{what} holds another model: {name} is {where} it')
    if np.shape(got[name]) != np.shape(want[name]):
      raise ValueError(f'{what} holds another model: {name} has shape '
                       f'{np.shape(got[name])}, the configured model '
                       f'{np.shape(want[name])}')


def model_kwargs(raw: dict) -> dict:
  """JSON model kwargs back to hashable module attributes (lists->tuples)."""
  return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}


def load_run(workdir: str) -> tuple[Any, dict, dict]:
  """(model, variables, results) of a finished run's workdir.

  Raises:
    ValueError: no finished run there, or a damaged file (naming it).
  """
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    raise ValueError(f'No finished run in {workdir!r} (no results.json)')
  results = files.read_json(path)
  cfg = results['config']
  model = models.get_model(cfg['model'], **model_kwargs(cfg['model_kwargs']))
  if 'input_shape' not in results:
    raise ValueError(f'{path} records no input_shape (written by an older '
                     'version); rerun it')
  x = np.zeros((1,) + tuple(results['input_shape']), np.float32)
  fresh = jax.jit(model.init)(jax.random.key(0), x)
  variables = load_init(workdir, flax.core.unfreeze(fresh))
  return model, variables, results
