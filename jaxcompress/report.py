"""Results tables: markdown and CSV from results.json files."""

from __future__ import annotations

import csv
import io
import json
import os

from jaxcompress import files

# (column title, results key, format)
DEFAULT_COLUMNS = (
    ('run', 'run', '{}'),
    ('model', 'model', '{}'),
    ('test error', 'test_error', '{:.2%}'),
    ('params', 'num_params', '{:,}'),
    ('nonzero', 'nonzero_params', '{:,}'),
    ('FLOPs', 'flops', '{:,}'),
    ('file bytes', 'model_file_bytes', '{:,}'),
    ('latency b1 ms', 'latency_ms/batch_1', '{:.3f}'),
    ('latency b1024 ms', 'latency_ms/batch_1024', '{:.2f}'),
    ('train s', 'train_wall_time_s', '{:.0f}'),
)


def load(workdir: str) -> dict:
  with open(os.path.join(workdir, 'results.json')) as f:
    r = json.load(f)
  r.setdefault('run', os.path.basename(os.path.normpath(workdir)))
  return r


def _get(row: dict, key: str):
  for part in key.split('/'):
    if not isinstance(row, dict) or part not in row:
      return None
    row = row[part]
  return row


def _cell(row, key, fmt):
  v = _get(row, key)
  if v is None:
    return ''
  return fmt.format(v)


def markdown(rows: list[dict], columns=DEFAULT_COLUMNS) -> str:
  lines = ['| ' + ' | '.join(c[0] for c in columns) + ' |',
           '|' + '---|' * len(columns)]
  for r in rows:
    lines.append('| ' + ' | '.join(_cell(r, k, f) for _, k, f in columns)
                 + ' |')
  return '\n'.join(lines) + '\n'


def to_csv(rows: list[dict], columns=DEFAULT_COLUMNS) -> str:
  out = io.StringIO()
  w = csv.writer(out)
  w.writerow([c[1] for c in columns])
  for r in rows:
    w.writerow(['' if _get(r, k) is None else _get(r, k) for _, k, _ in columns])
  return out.getvalue()


def save_png(fig, path: str) -> None:
  """Writes a matplotlib figure to `path` as a PNG, atomically, and closes
  it."""
  import matplotlib.pyplot as plt
  buf = io.BytesIO()
  fig.savefig(buf, dpi=120, format='png')
  plt.close(fig)
  files.atomic_write(path, buf.getvalue())
