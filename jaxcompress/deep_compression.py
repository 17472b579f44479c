"""Deep Compression's storage stage: weight sharing + sparse indices + entropy
coding, into a real file (Han, Mao & Dally 2016).

For every pruned kernel (a parameter whose path a rule selects):
  * weight sharing: its nonzero weights are clustered into 2^bits shared values
    by 1-D k-means with linear initialisation (the paper's best init); each
    weight is stored as a `bits`-bit code (one byte per code before coding, two
    at 8 bits, where the 256 shared values and the filler need 257 symbols);
  * sparse indices: positions are stored as gaps between consecutive nonzeros
    in one byte each; a gap of 255 or more emits a filler entry that decodes to
    an explicit zero (the paper's relative-index trick with 8-bit gaps);
  * entropy coding: the code and gap byte streams are compressed with LZMA,
    whose range coder plays the role of the paper's Huffman coding.
A rule of 32 bits keeps the kernel's nonzeros as float32 values (pruning
alone, no sharing) with the same sparse indices and coding. Every other
parameter (biases, batch norm) is stored as float32.

`save` writes the file and returns its bytes; `load` decodes it into the same
float32 parameters that `quantize_params` produced in memory, so the accuracy
evaluated before saving is the accuracy of the file. The file ends with a
seal (`jaxcompress.files.seal`: a SHA-256 of the rest, 47 bytes), so a
damaged file fails to load naming itself; the magic carries the version.
"""

from __future__ import annotations

import io
import json
import lzma
import struct

import jax
import numpy as np

from jaxcompress import files
from jaxcompress.rules import apply_rules, named_leaves

MAGIC = b'JXCDC2'
_MAX_GAP = 255
FLOAT_BITS = 32   # a rule's bits that keep float32 values (no sharing)


def kmeans_1d(values: np.ndarray, bits: int,
              iters: int = 30) -> tuple[np.ndarray, np.ndarray]:
  """Shares `values` among 2^bits centroids; returns (centroids, codes).

  Linear initialisation over [min, max], then Lloyd iterations; assignment to
  the nearest centroid by binary search over the sorted centroids' midpoints.
  Values that take at most 2^bits distinct values already (weights trained on
  a quantization grid) are shared exactly: the centroids are those values.
  """
  if not 1 <= bits <= 8:
    raise ValueError(f'weight-sharing bits must be in 1..8, got {bits}')
  values = np.asarray(values, np.float64)
  k = 2**bits
  if values.size == 0:
    return np.zeros(k, np.float32), np.zeros(0, np.uint8)
  distinct = np.unique(values)
  if distinct.size <= k:
    return (distinct.astype(np.float32),
            np.searchsorted(distinct, values).astype(np.uint8))
  centroids = np.linspace(values.min(), values.max(), k)
  for _ in range(iters):
    codes = np.searchsorted((centroids[1:] + centroids[:-1]) / 2, values)
    sums = np.bincount(codes, values, minlength=k)
    counts = np.bincount(codes, minlength=k)
    new = np.where(counts > 0, sums / np.maximum(counts, 1), centroids)
    order = np.argsort(new, kind='stable')
    new = new[order]
    if np.allclose(new, centroids):
      centroids = new
      break
    centroids = new
  centroids = centroids.astype(np.float32)
  codes = np.searchsorted((centroids[1:] + centroids[:-1]) / 2,
                          values.astype(np.float32)).astype(np.uint8)
  return centroids, codes


def _settings(params, rules) -> dict:
  """{path: bits} for the parameters a rule gives bits to."""
  return dict(named_leaves(apply_rules(params, rules, default=None)))


def quantize_params(params, rules) -> dict:
  """Weight-shared copy of `params`: each kernel a rule gives `bits` to has its
  nonzeros replaced by their centroid (zeros stay zero).

  Args:
    params: a pytree of (pruned) float parameters.
    rules: `(regex, bits)` rules over parameter paths; None leaves a
      parameter in float32.
  """
  settings = _settings(params, rules)
  names = iter([n for n, _ in named_leaves(params)])

  def share(leaf):
    bits = settings.get(next(names))
    leaf = np.asarray(leaf, np.float32)
    if bits is None or bits == FLOAT_BITS:
      return leaf
    flat = leaf.reshape(-1).copy()
    nz = np.flatnonzero(flat)
    centroids, codes = kmeans_1d(flat[nz], bits)
    flat[nz] = centroids[codes]
    return flat.reshape(leaf.shape)

  return jax.tree.map(share, params)


def _encode_sparse(flat: np.ndarray, bits: int):
  nz = np.flatnonzero(flat)
  if bits == FLOAT_BITS:
    # No sharing: the "codes" are the float32 values, fillers 0.0.
    centroids, codes = np.zeros(0, np.float32), flat[nz]
  else:
    centroids, codes = kmeans_1d(flat[nz], bits)
  # Zero must decode to zero: reserve code 0 for the fillers when needed.
  gaps = np.diff(nz, prepend=-1) - 1
  out_gaps, out_codes = [], []
  filler = len(centroids)  # one past the last centroid: decodes to zero
  for gap, code in zip(gaps.tolist(), codes.tolist()):
    while gap >= _MAX_GAP:
      out_gaps.append(_MAX_GAP - 1)
      out_codes.append(filler)
      gap -= _MAX_GAP
    out_gaps.append(gap)
    out_codes.append(code)
  # 8 bits: 256 centroids and the filler need a second byte per code (mostly
  # zero, which the entropy coder absorbs).
  code_dtype = (np.float32 if bits == FLOAT_BITS else
                np.uint8 if filler < 256 else np.uint16)
  return (centroids, np.array(out_gaps, np.uint8),
          np.array(out_codes, code_dtype))


def _decode_sparse(size, centroids, gaps, codes):
  flat = np.zeros(size, np.float32)
  positions = np.cumsum(gaps.astype(np.int64) + 1) - 1
  if codes.dtype == np.float32:
    flat[positions] = codes
  else:
    flat[positions] = np.append(centroids, np.float32(0))[codes]
  return flat


def _compress(data: bytes) -> bytes:
  return lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)


def kernel_bytes(leaf, bits: int) -> int:
  """Bytes one weight-shared kernel adds to a file, compressed on its own.

  The centroids, index gaps and codes `save` would write for `leaf`, through
  the same LZMA settings, less the fixed size of an empty LZMA stream; a
  file's bytes are about the sum of its kernels' plus the rest of the file
  (biases, header, seal).
  """
  centroids, gaps, codes = _encode_sparse(
      np.asarray(leaf, np.float32).reshape(-1), bits)
  blob = centroids.tobytes() + gaps.tobytes() + codes.tobytes()
  return len(_compress(blob)) - len(_compress(b''))


def save(params, rules, path: str) -> int:
  """Writes `quantize_params(params, rules)` compactly; returns the file bytes.

  Raises:
    ValueError: for bits outside 1..8 (or 32) or a rule that matches no
      parameter.
  """
  settings = _settings(params, rules)
  header, blobs = [], []
  for name, leaf in named_leaves(params):
    leaf = np.asarray(leaf, np.float32)
    bits = settings.get(name)
    if bits is None:
      header.append({'name': name, 'shape': leaf.shape, 'kind': 'f32'})
      blobs.append(leaf.tobytes())
      continue
    centroids, gaps, codes = _encode_sparse(leaf.reshape(-1), bits)
    header.append({'name': name, 'shape': leaf.shape,
                   'kind': 'sparse_f32' if bits == FLOAT_BITS else 'shared',
                   'k': len(centroids), 'n': len(gaps),
                   'code_bytes': codes.itemsize})
    blobs += [centroids.tobytes(), gaps.tobytes(), codes.tobytes()]
  head = json.dumps(header).encode()
  body = _compress(b''.join(blobs))
  return files.atomic_write(path, files.seal(
      MAGIC + struct.pack('<I', len(head)) + head + body))


def load(path: str, like) -> dict:
  """Reads a file written by `save` into a pytree shaped like `like`.

  Raises:
    files.DamagedFileError: a truncated, corrupted or foreign file (naming
      it and what is wrong).
    ValueError: a file of another model (other parameters).
  """
  raw = files.read_sealed(path)
  if not raw.startswith(MAGIC):
    raise files.DamagedFileError(
        f'{path} is not a jaxcompress deep-compression file of this version '
        f'(starts {raw[:6]!r}, expected {MAGIC!r})')
  try:
    (n,) = struct.unpack('<I', raw[len(MAGIC):len(MAGIC) + 4])
    header = json.loads(raw[len(MAGIC) + 4:len(MAGIC) + 4 + n])
    body = io.BytesIO(lzma.decompress(raw[len(MAGIC) + 4 + n:]))
    arrays = {}
    for h in header:
      size = int(np.prod(h['shape']))
      if h['kind'] == 'f32':
        arrays[h['name']] = np.frombuffer(body.read(4 * size), np.float32)
      else:
        centroids = np.frombuffer(body.read(4 * h['k']), np.float32)
        gaps = np.frombuffer(body.read(h['n']), np.uint8)
        dtype = (np.float32 if h['kind'] == 'sparse_f32' else
                 np.uint8 if h['code_bytes'] == 1 else np.uint16)
        codes = np.frombuffer(body.read(h['n'] * h['code_bytes']), dtype)
        arrays[h['name']] = _decode_sparse(size, centroids, gaps, codes)
      arrays[h['name']] = arrays[h['name']].reshape(h['shape'])
  except (ValueError, KeyError, struct.error, lzma.LZMAError) as e:
    raise files.DamagedFileError(f'{path}: undecodable contents '
                                 f'({type(e).__name__}: {e})') from None
  expected = [name for name, _ in named_leaves(like)]
  if sorted(expected) != sorted(arrays):
    raise ValueError(f'{path} holds parameters {sorted(arrays)}, the model '
                     f'expects {sorted(expected)}')
  names = iter(expected)
  return jax.tree.map(lambda _: arrays[next(names)], like)
