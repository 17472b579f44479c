"""Runs a suite of experiments side by side and tabulates them.

A suite is a ConfigDict (see experiments/configs/compare.py) with
  rows: a list of {'name', 'strategy', 'config' (a module under
    experiments/configs), 'overrides' (dict of config fields, nested dicts for
    sections)}; a string override may name another row's workdir as
    '{row:NAME}' (the distilled student's teacher is the dense row);
  seeds: the seeds every row runs with (results are the median-error seed);
  common: overrides applied to every row before its own (the --quick preset
    shortens training here).

`run_suite` runs each (row, seed) through its config's entry, skipping runs
whose results.json already exists, and writes comparison.md, comparison.csv
and comparison.png (test error against nonzero parameters, per strategy).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import statistics
import time

import ml_collections

from jaxcompress import report

COLUMNS = (
    ('strategy', 'strategy', '{}'),
    ('row', 'run', '{}'),
    ('model', 'model', '{}'),
    ('test error', 'test_error', '{:.2%}'),
    ('seeds', 'seeds', '{}'),
    ('nonzero params', 'nonzero_params', '{:,}'),
    ('FLOPs', 'flops', '{:,}'),
    ('bytes on disk', 'bytes_on_disk', '{:,}'),
    ('latency b1 ms', 'latency_ms/batch_1', '{:.3f}'),
    ('latency b1024 ms', 'latency_ms/batch_1024', '{:.2f}'),
    ('wall s', 'wall_time_s', '{:.0f}'),
)

# Keys under which entries report the final compressed model, when they
# differ from the float model that trained.
_ERROR_KEYS = ('compressed_test_error', 'qat_integer_error', 'test_error')
_BYTES_KEYS = ('compressed_file_bytes', 'qat_file_bytes', 'model_file_bytes')


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


def row_config(row, common: dict, seed: int, workdirs: dict):
  module = importlib.import_module(f'configs.{row["config"]}')
  config = module.get_config()
  _override(config, common, workdirs)
  _override(config, row.get('overrides', {}), workdirs)
  config.seed = seed
  return config


def _final(results: dict) -> dict:
  """Results with test_error / bytes_on_disk describing the final model."""
  out = dict(results)
  out['test_error'] = next(results[k] for k in _ERROR_KEYS if k in results)
  out['bytes_on_disk'] = next((results[k] for k in _BYTES_KEYS
                               if k in results), None)
  return out


def _resolve(entry: str):
  module, _, fn = entry.partition(':')
  return getattr(importlib.import_module(module), fn)


def run_suite(suite: ml_collections.ConfigDict, workdir: str) -> list[dict]:
  """Runs every row for every seed; returns one summary row per suite row."""
  rows = [r.to_dict() if hasattr(r, 'to_dict') else dict(r)
          for r in suite.rows]
  common = suite.common.to_dict() if suite.common else {}
  names = [r['name'] for r in rows]
  if len(set(names)) != len(names):
    raise ValueError(f'Duplicate row names in the suite: {names}')
  summaries = []
  for row in rows:
    per_seed = []
    for seed in suite.seeds:
      workdirs = {n: os.path.join(workdir, n, f'seed{seed}') for n in names}
      config = row_config(row, common, seed, workdirs)
      run_dir = workdirs[row['name']]
      done = os.path.join(run_dir, 'results.json')
      if os.path.exists(done):
        with open(done) as f:
          results = json.load(f)
      else:
        t0 = time.time()
        _, results = _resolve(config.entry)(config, run_dir)
        results['wall_time_s'] = time.time() - t0
        with open(done, 'w') as f:
          json.dump(results, f, indent=1, default=str)
      per_seed.append(_final(results))
    per_seed.sort(key=lambda r: r['test_error'])
    median = per_seed[len(per_seed) // 2]
    summary = dict(median, run=row['name'], strategy=row['strategy'],
                   seeds=len(per_seed),
                   test_error=statistics.median(r['test_error']
                                                for r in per_seed))
    summaries.append(summary)
  write_outputs(summaries, workdir)
  return summaries


def write_outputs(summaries: list[dict], workdir: str) -> None:
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'comparison.md'), 'w') as f:
    f.write(report.markdown(summaries, COLUMNS))
  with open(os.path.join(workdir, 'comparison.csv'), 'w') as f:
    f.write(report.to_csv(summaries, COLUMNS))
  plot(summaries, os.path.join(workdir, 'comparison.png'))


def plot(summaries: list[dict], path: str) -> None:
  """Test error against nonzero parameters, one marker per strategy."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for strategy in dict.fromkeys(s['strategy'] for s in summaries):
    pts = [s for s in summaries if s['strategy'] == strategy]
    ax.scatter([p['nonzero_params'] for p in pts],
               [100 * p['test_error'] for p in pts], label=strategy, s=40)
    for p in pts:
      ax.annotate(p['run'], (p['nonzero_params'], 100 * p['test_error']),
                  fontsize=7, xytext=(3, 3), textcoords='offset points')
  ax.set_xscale('log')
  ax.set_xlabel('nonzero parameters')
  ax.set_ylabel('MNIST test error (%)')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
