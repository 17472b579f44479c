"""Running, evaluating and timing .tflite files in the LiteRT interpreter.

The interpreter is `ai_edge_litert.interpreter.Interpreter` (the
`ai-edge-litert` package; `tf.lite.Interpreter` is deprecated). It applies
its default CPU delegate (XNNPACK) as a deployed app would; `num_threads`
sets the threads it may use.

Latency is the median wall time of one call as an app makes it: copy the
image in, `invoke`, copy the logits out, at batch 1, after warm-up.
`time_alternating` times several callables in one loop, a block of calls of
each per round in rotating order, so that the load of a shared machine falls
on all of them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from jaxcompress import timing


def interpreter(tflite: bytes, num_threads: int = 1, xnnpack: bool = True):
  """A LiteRT interpreter of `tflite` with its tensors allocated.

  Args:
    tflite: the file's bytes.
    num_threads: CPU threads the interpreter may use.
    xnnpack: apply the default XNNPACK delegate (False: LiteRT's builtin
      kernels only; XNNPACK refuses quantized files with sparse weights).

  Raises:
    ValueError: if `num_threads` < 1.
  """
  if num_threads < 1:
    raise ValueError(f'num_threads must be >= 1, got {num_threads}')
  from ai_edge_litert.interpreter import Interpreter, OpResolverType
  resolver = (OpResolverType.AUTO if xnnpack else
              OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
  it = Interpreter(model_content=tflite, num_threads=num_threads,
                   experimental_op_resolver_type=resolver)
  it.allocate_tensors()
  return it


def runner(tflite: bytes, num_threads: int = 1, xnnpack: bool = True
           ) -> Callable[[np.ndarray], np.ndarray]:
  """`x -> logits` for one example batch `x` (the file's input shape)."""
  it = interpreter(tflite, num_threads, xnnpack)
  inp = it.get_input_details()[0]['index']
  out = it.get_output_details()[0]['index']

  def run(x):
    it.set_tensor(inp, x)
    it.invoke()
    return it.get_tensor(out)

  return run


def predict(tflite: bytes, images: np.ndarray, num_threads: int = 1,
            xnnpack: bool = True) -> np.ndarray:
  """Logits of every image, one interpreter call per image (batch 1).

  Raises:
    ValueError: if the images do not match the file's input shape.
  """
  it = interpreter(tflite, num_threads, xnnpack)
  inp = it.get_input_details()[0]
  out = it.get_output_details()[0]['index']
  want = tuple(int(d) for d in inp['shape'][1:])
  images = np.asarray(images, np.float32)
  if images.shape[1:] != want:
    raise ValueError(f'images of shape {images.shape[1:]} do not match the '
                     f'model input {want}')
  logits = []
  for i in range(len(images)):
    it.set_tensor(inp['index'], images[i:i + 1])
    it.invoke()
    logits.append(it.get_tensor(out))
  return np.concatenate(logits)


def error(tflite: bytes, images: np.ndarray, labels: np.ndarray,
          num_threads: int = 1, xnnpack: bool = True) -> float:
  """Top-1 error of the file's logits on (images, labels)."""
  logits = predict(tflite, images, num_threads, xnnpack)
  return float(np.mean(logits.argmax(-1) != np.asarray(labels)))


def time_alternating(fns: Mapping[str, Callable[[], object]],
                     rounds: int = 50, block: int = 10, warmup: int = 20,
                     prepare: Mapping[str, Callable[[], object]] | None = None
                     ) -> dict[str, float]:
  """Median milliseconds of each zero-argument callable, timed alternately
  in blocks (`jaxcompress.timing.interleaved`).

  Raises:
    ValueError: if `rounds` or `block` < 1 or there is nothing to time.
  """
  return timing.ms(timing.interleaved(fns, rounds, warmup=warmup,
                                      block=block, prepare=prepare))


def latency_ms(tflite: bytes, x: np.ndarray, num_threads: int = 1,
               repeats: int = 500, xnnpack: bool = True) -> float:
  """Median ms of `repeats` batch-1 calls of the file (module docstring)."""
  run = runner(tflite, num_threads, xnnpack)
  x = np.asarray(x, np.float32)
  return time_alternating({'m': lambda: run(x)}, rounds=1,
                          block=repeats)['m']


def op_names(tflite: bytes) -> list[str]:
  """The builtin op of every operator in the main subgraph, in order."""
  from jaxcompress.export import flatbuffer
  model = flatbuffer.read(tflite)
  return [flatbuffer.op_name(model, op) for op in model.subgraphs[0].operators]
