"""Suites: many experiments over seeds, their medians, their tables.

Every table of the project (the comparison binary, the pruning, structured,
quantization and distillation tables under benchmarks/) runs through
`run_rows`: each (row, seed) is one `pipelines.run` of the row's config in
`<root>/<row>/seed<seed>`. A finished run is reused only after its run store
has checked that it was produced by exactly this config (otherwise the run
stops with the fields that differ), so a table never mixes results of
another config into its medians.

A row's config may name another row's workdir as '{row:NAME}' in any string
field of its overrides (the distilled student's teacher is the dense row).
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import statistics
from collections.abc import Sequence
from typing import Any

import ml_collections

from jaxcompress import files, report


@dataclasses.dataclass(frozen=True)
class Row:
  """One experiment of a suite.

  Attributes:
    name: the row's name (and its folder).
    config: the experiment ConfigDict.
    overrides: fields to set on a copy of `config` (nested dicts for
      sections; strings may name '{row:NAME}').
    strategy, published: labels for tables.
  """
  name: str
  config: Any
  overrides: dict = dataclasses.field(default_factory=dict)
  strategy: str = ''
  published: str = ''


def _override(config, overrides: dict, workdirs: dict):
  for key, value in overrides.items():
    if isinstance(value, dict):
      if key not in config or config[key] is None:
        config[key] = ml_collections.ConfigDict()
      _override(config[key], value, workdirs)
      continue
    if isinstance(value, str):
      value = re.sub(r'\{row:(\w+)\}', lambda m: workdirs[m.group(1)], value)
    config[key] = value


def row_config(row: Row, common: dict, seed: int, workdirs: dict):
  """The row's config for one seed, `common` then the row's overrides."""
  config = copy.deepcopy(row.config)
  with config.unlocked() if hasattr(config, 'unlocked') else _Null():
    _override(config, common, workdirs)
    _override(config, row.overrides, workdirs)
    config.seed = seed
  return config


class _Null:
  def __enter__(self):
    return self

  def __exit__(self, *exc):
    return False


def run_rows(rows: Sequence[Row], seeds: Sequence[int], root: str, *,
             common: dict | None = None, run: bool = True
             ) -> dict[str, list[dict]]:
  """{row name: [results of each seed]}, running what has not finished.

  Args:
    rows: the suite's rows (names unique).
    seeds: seeds every row runs with.
    root: runs go to root/<row>/seed<seed>.
    common: overrides applied to every row before its own.
    run: False only reads finished runs (missing ones are skipped).

  Each results dict also names its run's `workdir` (not written to disk).

  Raises:
    ValueError: duplicate row names, or a finished run of another config.
  """
  from jaxcompress import pipelines
  names = [r.name for r in rows]
  if len(set(names)) != len(names):
    raise ValueError(f'Duplicate row names in the suite: {names}')
  out = {}
  for row in rows:
    out[row.name] = []
    for seed in seeds:
      workdirs = {n: os.path.join(root, n, f'seed{seed}') for n in names}
      config = row_config(row, common or {}, seed, workdirs)
      where = workdirs[row.name]
      if run:
        _, results = pipelines.run(config, where)
      elif os.path.exists(os.path.join(where, 'results.json')):
        results = finished_results(config, where)
      else:
        continue
      out[row.name].append(dict(results, workdir=where))
  return out


def finished_results(config, workdir: str) -> dict:
  """A finished run's results, after checking it ran `config`.

  Raises:
    ValueError: the workdir holds a run of another config (naming fields).
  """
  from jaxcompress.plugins import registry
  from jaxcompress.train import store
  resolved = registry.resolved(registry.parse_config(config))
  recorded = files.read_json(os.path.join(workdir, 'run.json'))
  diffs = store.config_differences(recorded.get('config', {}), resolved)
  if diffs:
    raise ValueError(f'{workdir} holds a run of another configuration: '
                     + '; '.join(diffs[:8]))
  return files.read_json(os.path.join(workdir, 'results.json'))


def median_of(results: Sequence[dict], key: str = 'test_error') -> float:
  return statistics.median(r[key] for r in results)


def median_run(results: Sequence[dict], key: str = 'test_error') -> dict:
  """The results of the seed with the median `key` (the upper middle of an
  even count)."""
  ordered = sorted(results, key=lambda r: r[key])
  return ordered[len(ordered) // 2]


def pct(x: float) -> str:
  return f'{100 * x:.2f}%'


def per_seed(values: Sequence[float]) -> str:
  """'median (a, b, c)' of error rates, each seed listed."""
  med = pct(statistics.median(values))
  if len(values) < 2:
    return med
  return f"{med} ({', '.join(pct(v) for v in values)})"


def write_tables(summaries: list[dict], workdir: str, columns,
                 name: str = 'comparison') -> None:
  """<name>.md and <name>.csv, atomically."""
  files.atomic_write(os.path.join(workdir, f'{name}.md'),
                     report.markdown(summaries, columns).encode())
  files.atomic_write(os.path.join(workdir, f'{name}.csv'),
                     report.to_csv(summaries, columns).encode())
