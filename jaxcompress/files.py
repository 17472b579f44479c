"""Files that are whole or absent: atomic writes, strict JSON, checksums.

Every file jaxcompress writes goes through `atomic_write`: the bytes go to a
temporary file in the same folder, are flushed to disk, and replace the
target with one `os.replace`, so a reader (or a crash) sees either the old
file or the new one, never half of one. JSON is written strictly: NaN and
infinity become null, never the invalid literals Python would print.

Binary formats carry `seal`'s trailer: a format tag and a SHA-256 of the
payload, checked by `unseal`, so a truncated or bit-flipped file raises one
error that names the file and what is wrong instead of decoding garbage.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
import tempfile
from typing import Any

_TRAILER = b'JXSEAL1'
_TRAILER_SIZE = len(_TRAILER) + 32 + 8


class DamagedFileError(ValueError):
  """A file that is truncated, corrupted, or not of the expected format."""


def atomic_write(path: str, data: bytes) -> int:
  """Writes `data` to `path` atomically; returns the number of bytes."""
  folder = os.path.dirname(os.path.abspath(path))
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix='.' + os.path.basename(path),
                             suffix='.tmp')
  try:
    with os.fdopen(fd, 'wb') as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise
  return len(data)


def to_json(obj: Any) -> str:
  """Strict JSON text: NaN and infinities become null (Python would write
  the invalid literals NaN and Infinity)."""
  return json.dumps(_finite(obj), indent=1, default=str, allow_nan=False)


def _finite(obj):
  if isinstance(obj, float) and not math.isfinite(obj):
    return None
  if isinstance(obj, dict):
    return {k: _finite(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_finite(v) for v in obj]
  return obj


def write_json(path: str, obj: Any) -> None:
  """`obj` as strict JSON, written atomically."""
  atomic_write(path, to_json(obj).encode())


def read_json(path: str) -> Any:
  """The JSON in `path`; DamagedFileError naming the file if it is not."""
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise DamagedFileError(f'{path} is not valid JSON ({e}); the file is '
                           'damaged') from None


def seal(payload: bytes) -> bytes:
  """`payload` + trailer (tag, SHA-256 of the payload, payload length)."""
  return (payload + _TRAILER + hashlib.sha256(payload).digest()
          + struct.pack('<Q', len(payload)))


def unseal(data: bytes, path: str) -> bytes:
  """The payload of a `seal`ed file, checked.

  Raises:
    DamagedFileError: naming `path`, if the trailer is missing (truncated or
      not a sealed file), the length disagrees, or the checksum does not
      match (bit flips).
  """
  if len(data) < _TRAILER_SIZE or data[-_TRAILER_SIZE:-40] != _TRAILER:
    raise DamagedFileError(f'{path}: no integrity trailer (the file is '
                           f'truncated, or not a jaxcompress file; '
                           f'{len(data)} bytes)')
  payload = data[:-_TRAILER_SIZE]
  digest = data[-40:-8]
  (length,) = struct.unpack('<Q', data[-8:])
  if length != len(payload):
    raise DamagedFileError(f'{path}: payload is {len(payload)} bytes, the '
                           f'trailer says {length} (the file is damaged)')
  if hashlib.sha256(payload).digest() != digest:
    raise DamagedFileError(f'{path}: checksum mismatch (the file is damaged)')
  return payload


def read_sealed(path: str) -> bytes:
  """The checked payload of a sealed file on disk."""
  if not os.path.exists(path):
    raise FileNotFoundError(f'No such file {path}')
  with open(path, 'rb') as f:
    return unseal(f.read(), path)


def digest_arrays(named_arrays) -> str:
  """SHA-256 over (name, dtype, shape, bytes) of (name, array) pairs."""
  import numpy as np
  h = hashlib.sha256()
  for name, a in named_arrays:
    a = np.ascontiguousarray(np.asarray(a))
    h.update(f'{name}|{a.dtype.str}|{a.shape}|'.encode())
    h.update(a.tobytes())
  return h.hexdigest()
