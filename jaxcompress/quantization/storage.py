"""A compact file format for quantized models, and its float32 twin.

Layout (little endian):

  b'JXCQ2\\n' | uint32 header length | header (JSON, UTF-8) | data | seal

where the seal (`jaxcompress.files.seal`) holds a SHA-256 of everything
before it: a truncated or corrupted file fails to load with one error that
names it, instead of loading as garbage. The magic carries the format
version.

The header names the zoo model (name and kwargs), each tensor's dtype, shape
and byte range in the data section, and the quantization settings (specs of
every quantized parameter, calibrated input ranges of integer layers). The
data section is the raw bytes: int8 codes (2 to 4 bit codes packed several
per byte), float32 scales, int16 zero points (affine grids only), and float32
for everything not quantized.

`save_float` writes float32 variables in the same format, so the ratio of
the two files' sizes (`os.path.getsize`, the bytes on disk) measures the
compression and nothing else.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from typing import Any

import numpy as np

from jaxcompress import files, models, saved_runs
from jaxcompress import rules as rules_lib
from jaxcompress.quantization.apply import LayerQuant
from jaxcompress.quantization.integer import IntegerModel, QTensor
from jaxcompress.quantization.quantizers import QuantSpec

MAGIC = b'JXCQ2\n'


def _spec_dict(spec: QuantSpec | None):
  return None if spec is None else dataclasses.asdict(spec)


def _spec(d) -> QuantSpec | None:
  return None if d is None else QuantSpec(**d)


class _Writer:

  def __init__(self):
    self.entries, self.chunks, self.offset = {}, [], 0

  def add(self, name: str, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    data = array.tobytes()
    self.entries[name] = {'dtype': array.dtype.str, 'shape': list(array.shape),
                          'offset': self.offset, 'nbytes': len(data)}
    self.chunks.append(data)
    self.offset += len(data)

  def write(self, path: str, header: dict) -> int:
    header = dict(header, tensors=self.entries)
    head = json.dumps(header, separators=(',', ':')).encode()
    payload = b''.join([MAGIC, struct.pack('<I', len(head)), head,
                        *self.chunks])
    return files.atomic_write(path, files.seal(payload))


def _read(path: str) -> tuple[dict, dict[str, np.ndarray]]:
  blob = files.read_sealed(path)
  if not blob.startswith(MAGIC):
    raise files.DamagedFileError(
        f'{path} is not a jaxcompress quantized-model file of this version '
        f'(starts {blob[:6]!r}, expected {MAGIC!r})')
  try:
    (n,) = struct.unpack('<I', blob[len(MAGIC):len(MAGIC) + 4])
    start = len(MAGIC) + 4
    header = json.loads(blob[start:start + n].decode())
    base = start + n
    arrays = {}
    for name, e in header['tensors'].items():
      raw = blob[base + e['offset']:base + e['offset'] + e['nbytes']]
      arrays[name] = np.frombuffer(raw, np.dtype(e['dtype'])).reshape(
          e['shape']).copy()
  except (ValueError, KeyError, struct.error, UnicodeDecodeError) as e:
    raise files.DamagedFileError(f'{path}: unreadable header or tensor '
                                 f'table ({type(e).__name__}: {e})') from None
  return header, arrays


def save_float(variables: Any, path: str, model_name: str = '',
               model_kwargs: dict | None = None) -> int:
  """Writes every variable as float32; returns the file's size in bytes."""
  w = _Writer()
  for name, leaf in rules_lib.named_leaves(variables):
    w.add(f'f:{name}', np.asarray(leaf, np.float32))
  return w.write(path, {'format': 'float32', 'model': model_name,
                        'model_kwargs': model_kwargs or {}})


def save(im: IntegerModel, path: str, model_name: str,
         model_kwargs: dict | None = None) -> int:
  """Writes an IntegerModel; returns the file's size in bytes."""
  w = _Writer()
  for name, a in im.floats.items():
    w.add(f'f:{name}', np.asarray(a, np.float32))
  qmeta = {}
  for name, qt in im.qweights.items():
    w.add(f'q:{name}:data', np.asarray(qt.data))
    w.add(f'q:{name}:scale', np.asarray(qt.scale, np.float32))
    if not qt.spec.symmetric:
      w.add(f'q:{name}:zero_point', np.asarray(qt.zero_point, np.int16))
    qmeta[name] = {'spec': _spec_dict(qt.spec), 'shape': list(qt.shape),
                   'scale_shape': list(np.shape(qt.scale))}
  layers = {
      n: {'weight': _spec_dict(lq.weight), 'act': _spec_dict(lq.act),
          'act_scale': float(lq.act_scale),
          'act_zero_point': float(lq.act_zero_point),
          'weight_method': lq.weight_method}
      for n, lq in im.layers.items()}
  return w.write(path, {'format': 'quantized', 'model': model_name,
                        'model_kwargs': model_kwargs or {},
                        'qweights': qmeta, 'layers': layers})


def load(path: str) -> IntegerModel:
  """Reads a file written by `save` back into an IntegerModel.

  Raises:
    files.DamagedFileError: a truncated, corrupted or foreign file (naming
      it and what is wrong).
    ValueError: a float32-only file.
  """
  header, arrays = _read(path)
  if header.get('format') != 'quantized':
    raise ValueError(f'{path} holds a {header.get("format")} model, not a '
                     'quantized one')
  model = models.get_model(header['model'],
                           **saved_runs.model_kwargs(header['model_kwargs']))
  floats = {k[2:]: v for k, v in arrays.items() if k.startswith('f:')}
  qweights = {}
  for name, meta in header['qweights'].items():
    spec = _spec(meta['spec'])
    scale = arrays[f'q:{name}:scale']
    zp = arrays.get(f'q:{name}:zero_point')
    zp = (np.zeros_like(scale) if zp is None else zp.astype(np.float32))
    qweights[name] = QTensor(arrays[f'q:{name}:data'], scale, zp,
                             tuple(meta['shape']), spec)
  layers = {
      n: LayerQuant(_spec(d['weight']), _spec(d['act']),
                    np.float32(d['act_scale']), np.float32(d['act_zero_point']),
                    d['weight_method'])
      for n, d in header['layers'].items()}
  return IntegerModel(model, floats, qweights, layers)


def load_float(path: str) -> dict:
  """Variables from a file written by `save_float`."""
  from flax import traverse_util
  header, arrays = _read(path)
  if header.get('format') != 'float32':
    raise ValueError(f'{path} is not a float32 model file')
  return traverse_util.unflatten_dict(
      {k[2:]: v for k, v in arrays.items()}, sep='/')
