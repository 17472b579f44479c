"""The comparison suite: strategies side by side, as tables and a plot.

A suite (experiments/configs/compare.py) is a ConfigDict with
  rows: `suite.Row`s (name, strategy, config, overrides);
  seeds: the seeds every row runs with (a row's figures are those of its
    median-error seed, its error the median over seeds);
  common: overrides applied to every row before its own (the --quick preset
    shortens training here).

`run_comparison` runs the rows through `suite.run_rows` and writes
comparison.md, comparison.csv and comparison.png (test error against nonzero
parameters, per strategy). Beside the JAX figures, each row's final model
(its median seed's) is exported to full-int8 LiteRT: the .tflite bytes and
its batch-1 latency in the LiteRT interpreter (`export.runs.edge_columns`).
"""

from __future__ import annotations

import os

from jaxcompress import report
from jaxcompress.export import runs as export_runs
from jaxcompress.pipelines import suite as suite_lib

COLUMNS = (
    ('strategy', 'strategy', '{}'),
    ('row', 'run', '{}'),
    ('model', 'model', '{}'),
    ('test error', 'test_error', '{:.2%}'),
    ('seeds', 'seeds', '{}'),
    ('error per seed', 'seed_errors', '{}'),
    ('nonzero params', 'nonzero_params', '{:,}'),
    ('FLOPs', 'flops', '{:,}'),
    ('bytes on disk', 'bytes_on_disk', '{:,}'),
    ('latency b1 ms', 'latency_ms/batch_1', '{:.3f}'),
    ('latency b1024 ms', 'latency_ms/batch_1024', '{:.2f}'),
    ('tflite bytes', 'tflite_bytes', '{:,}'),
    ('LiteRT int8 b1 ms', 'litert_int8_b1_ms', '{:.4f}'),
    ('wall s', 'wall_time_s', '{:.0f}'),
)

# Keys under which runs report the final compressed model, when it differs
# from the float model that trained.
_ERROR_KEYS = ('compressed_test_error', 'qat_integer_error', 'test_error')
_BYTES_KEYS = ('compressed_file_bytes', 'qat_file_bytes', 'model_file_bytes')


def final_model(results: dict) -> dict:
  """Results with test_error / bytes_on_disk describing the final model."""
  out = dict(results)
  out['test_error'] = next(results[k] for k in _ERROR_KEYS if k in results)
  out['bytes_on_disk'] = next((results[k] for k in _BYTES_KEYS
                               if k in results), None)
  out['wall_time_s'] = results.get('pipeline_wall_time_s',
                                   results.get('wall_time_s'))
  return out


def _label(row, per_seed) -> str:
  """The row's name, marked when a seed's run diverged (kept on request)."""
  bad = sum(bool(r.get('diverged')) for r in per_seed)
  return f'{row.name} ({bad} diverged)' if bad else row.name


def run_comparison(suite, workdir: str) -> list[dict]:
  """Runs every row for every seed; returns one summary row per suite row."""
  rows = list(suite.rows)
  common = suite.common.to_dict() if suite.common else {}
  runs = suite_lib.run_rows(rows, list(suite.seeds), workdir, common=common)
  summaries = []
  for row in rows:
    per_seed = [final_model(r) for r in runs[row.name]]
    median = suite_lib.median_run(per_seed)
    # The median seed's final model, exported to full-int8 LiteRT and timed
    # at batch 1 (what the edge would run).
    edge = export_runs.edge_columns(median['workdir'])
    summaries.append(dict(
        median, **edge, run=_label(row, per_seed), strategy=row.strategy,
        seeds=len(per_seed), test_error=suite_lib.median_of(per_seed),
        seed_errors=' '.join(suite_lib.pct(r['test_error'])
                             for r in per_seed)))
  os.makedirs(workdir, exist_ok=True)
  suite_lib.write_tables(summaries, workdir, COLUMNS)
  plot(summaries, os.path.join(workdir, 'comparison.png'))
  return summaries


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
  ax.set_ylabel('test error (%)')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  report.save_png(fig, path)
