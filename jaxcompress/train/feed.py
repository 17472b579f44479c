"""What a run trains and evaluates on: its dataset, as configured.

`load_data(settings)` gives the run's `data.Dataset` (decoded once per
process and cached), cut to `train_subset` / `test_subset`.
"""

from __future__ import annotations

import functools
from typing import Any

from jaxcompress import data as data_lib
from jaxcompress.plugins import registry
from jaxcompress.plugins.settings import RunSettings


@functools.lru_cache(maxsize=4)
def _load_data(name, data_dir, manual_dir):
  return data_lib.load(name, data_dir or None, manual_dir or None)


def load_data(s: RunSettings | Any) -> data_lib.Dataset:
  """The run's dataset (cached per process), subset as configured.

  `s` is a run's settings, or a config they are parsed from."""
  if not isinstance(s, RunSettings):
    s = registry.parse_config(s).settings
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
  return ds
