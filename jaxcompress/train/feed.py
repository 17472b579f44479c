"""What a run trains and evaluates on: its dataset, as configured.

`load_data(settings)` gives the run's `data.Dataset` (decoded once per
process and cached), cut to `train_subset` / `test_subset`, less the
validation split (`validation_examples`, the last training images) that
`load_validation` gives. `train_path` says whether the training split goes
on the device (scanned epochs) or streams through tf.data, and why.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
import numpy as np

from jaxcompress import data as data_lib
from jaxcompress.plugins import registry
from jaxcompress.plugins.settings import RunSettings


@functools.lru_cache(maxsize=4)
def _load_data(name, data_dir, manual_dir):
  return data_lib.load(name, data_dir or None, manual_dir or None)


def _subset(s: RunSettings) -> data_lib.Dataset:
  ds = _load_data(s.dataset, s.data_dir, s.manual_dir)
  if s.train_subset or s.test_subset:
    for what, n, have in (('train_subset', s.train_subset, len(
        ds.train_labels)), ('test_subset', s.test_subset, len(ds.test_labels))):
      if n > have:
        raise ValueError(f'{what} {n} is larger than the {have} examples of '
                         f'{s.dataset}')
    tr = s.train_subset or len(ds.train_labels)
    te = s.test_subset or len(ds.test_labels)
    ds = data_lib.Dataset(ds.train_images[:tr], ds.train_labels[:tr],
                          ds.test_images[:te], ds.test_labels[:te],
                          ds.mean, ds.std)
  n = s.validation_examples
  if n and n >= len(ds.train_labels):
    raise ValueError(f'validation_examples {n} leaves no training examples '
                     f'(the training set has {len(ds.train_labels)})')
  return ds


def load_data(s: RunSettings | Any) -> data_lib.Dataset:
  """The run's dataset (cached per process), subset as configured, without
  the validation split (`validation_examples`) it holds out.

  `s` is a run's settings, or a config they are parsed from."""
  if not isinstance(s, RunSettings):
    s = registry.parse_config(s).settings
  ds = _subset(s)
  n = s.validation_examples
  if n:
    ds = data_lib.Dataset(ds.train_images[:-n], ds.train_labels[:-n],
                          ds.test_images, ds.test_labels, ds.mean, ds.std)
  return ds


def load_validation(s: RunSettings | Any) -> tuple[np.ndarray, np.ndarray]:
  """(images, labels) of the validation split: the last `validation_examples`
  training images (after `train_subset`), which `load_data` holds out.

  Raises:
    ValueError: the settings hold out no validation split.
  """
  if not isinstance(s, RunSettings):
    s = registry.parse_config(s).settings
  n = s.validation_examples
  if not n:
    raise ValueError('validation_examples is 0: no validation split is held '
                     'out of the training set')
  ds = _subset(s)
  return ds.train_images[-n:], ds.train_labels[-n:]


def memory_budget() -> int:
  """Bytes the decoded dataset may take: half the first device's memory
  (GPU/TPU), or a quarter of the host's RAM on CPU."""
  stats = jax.local_devices()[0].memory_stats() or {}
  if stats.get('bytes_limit'):
    return int(stats['bytes_limit']) // 2
  return os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') // 4


def train_path(s: RunSettings, budget_bytes: int | None = None
               ) -> tuple[bool, str]:
  """(in_memory, why): scanned epochs on the device only when the decoded
  dataset fits in `budget_bytes` (default `memory_budget()`), else the
  tf.data stream; `in_memory=False` always streams (in a multi-process run
  each process then reads only its share of the split; on the scanned path
  every process holds the whole split)."""
  if not s.in_memory:
    return False, 'in_memory=False: batches stream through tf.data'
  inf = data_lib.info(s.dataset, s.data_dir or None, s.manual_dir or None)
  path, why = data_lib.feed_path(
      inf, memory_budget() if budget_bytes is None else budget_bytes)
  return path == 'scan', why
