"""LiteRT batch-1 latency of a model shrunk to given widths.

What a latency budget is planned on (`jaxcompress.auto.latency`): for a
width of every channel group, the model is shrunk to its first units
(`structured.shrink`; a call's time does not depend on the weights'
values), converted like the deployed file (`convert.to_tflite`, the same
quantization mode) and timed in the LiteRT interpreter on one thread, as
`litert.latency_ms` times a file.

`WidthTimer` times each batch of files alternately with the dense model's
file, and reports a file's ms as its time relative to the dense file in
that loop, times the dense file's ms measured when the timer was made:
the load of a shared machine drifts between loops, and every latency a
plan is compared with is then on the same scale. Each batch is timed in
`loops` loops, each on fresh interpreters, and the median ratio taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import numpy as np

from jaxcompress import structured
from jaxcompress.export import convert, litert


def shrunk_file(model: nn.Module, variables: Any, graph: structured.Graph,
                widths: Mapping[str, int], *, input_shape: Sequence[int],
                quantize: str = 'none',
                calibration_images: np.ndarray | None = None) -> bytes:
  """The .tflite file of `model` keeping the first `widths[g]` units of
  each group g named (the others dense)."""
  keep = {g: np.arange(int(w)) for g, w in widths.items()}
  masked = structured.mask_variables(graph, variables, keep)
  small, small_vars = structured.shrink(model, masked, keep, graph)
  return convert.to_tflite(small, small_vars, input_shape=input_shape,
                           quantize=quantize,
                           calibration_images=calibration_images)


def time_files(files: Mapping[str, bytes], x: np.ndarray, *,
               rounds: int = 50, block: int = 20) -> dict[str, float]:
  """Median batch-1 ms of each file (one thread), timed alternately."""
  runs = {k: litert.runner(b) for k, b in files.items()}
  x = np.asarray(x, np.float32)
  return litert.time_alternating({k: (lambda r=r: r(x)) for k, r in
                                  runs.items()}, rounds=rounds, block=block)


class WidthTimer:
  """Batch-1 ms of the model at any widths, on the dense file's scale.

  Attributes:
    dense_file: the dense model's .tflite file.
    dense_ms: its median ms, timed when the timer was made.
  """

  def __init__(self, model: nn.Module, variables: Any,
               graph: structured.Graph, x: np.ndarray, *,
               quantize: str = 'none',
               calibration_images: np.ndarray | None = None,
               rounds: int = 200, block: int = 20, loops: int = 3):
    convert.check_quantize(quantize)
    self._args = (model, variables, graph)
    self._kw = dict(input_shape=tuple(np.shape(x)[1:]), quantize=quantize,
                    calibration_images=calibration_images)
    self._x, self._rounds, self._block, self._loops = x, rounds, block, loops
    self.dense_file = convert.to_tflite(model, variables, **self._kw)
    self.dense_ms = time_files({'dense': self.dense_file}, x, rounds=rounds,
                               block=block)['dense']

  def relative(self, files: Sequence[bytes]) -> list[float]:
    """Each file's ms on the dense file's scale (module docstring)."""
    named = {'dense': self.dense_file,
             **{f'f{i}': b for i, b in enumerate(files)}}
    ratios = []
    for _ in range(self._loops):
      t = time_files(named, self._x, rounds=self._rounds, block=self._block)
      ratios.append([t[f'f{i}'] / t['dense'] for i in range(len(files))])
    return [float(np.median(r)) * self.dense_ms for r in zip(*ratios)]

  def __call__(self, widths: Mapping[str, int]) -> float:
    """The ms of the model shrunk to `widths`."""
    return self.many([widths])[0]

  def many(self, widths: Sequence[Mapping[str, int]]) -> list[float]:
    """The ms of each of `widths`, timed in one loop."""
    return self.relative([shrunk_file(*self._args, w, **self._kw)
                          for w in widths])
