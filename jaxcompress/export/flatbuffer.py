"""Reading and writing .tflite flatbuffers as mutable Python objects.

Thin helpers over TensorFlow's generated LiteRT schema
(`tensorflow.lite.python.schema_py_generated`, the object API `ModelT`) and
`tensorflow.lite.tools.flatbuffer_utils`, for the few edits export makes:
the int8 grid of a tensor and the bytes of a constant buffer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _schema():
  from tensorflow.lite.python import schema_py_generated
  return schema_py_generated


def read(tflite: bytes):
  """The file as a mutable `ModelT`."""
  from tensorflow.lite.tools import flatbuffer_utils
  return flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))


def write(model) -> bytes:
  """A `ModelT` back to .tflite bytes."""
  from tensorflow.lite.tools import flatbuffer_utils
  return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def op_name(model, op) -> str:
  """The builtin name of an operator ('FULLY_CONNECTED', 'CONV_2D', ...)."""
  code = model.operatorCodes[op.opcodeIndex]
  # Codes above 127 live only in builtinCode (the deprecated field is int8).
  value = max(code.builtinCode, code.deprecatedBuiltinCode)
  names = {v: k for k, v in vars(_schema().BuiltinOperator).items()
           if not k.startswith('_')}
  return names.get(value, f'builtin_{value}')


def tensor_name(tensor) -> str:
  name = tensor.name
  return name.decode() if isinstance(name, bytes) else str(name)


def int_type(tensor) -> str | None:
  """'int8' / 'int32' for those tensor types, else None."""
  t = _schema().TensorType
  return {t.INT8: 'int8', t.INT32: 'int32'}.get(tensor.type)


def set_quantization(tensor, scale: Sequence[float] | np.ndarray,
                     zero_point: Sequence[int] | np.ndarray,
                     axis: int = 0) -> None:
  """Sets a tensor's affine grid (per tensor if one scale, else per axis)."""
  q = tensor.quantization
  if q is None:
    q = _schema().QuantizationParametersT()
    tensor.quantization = q
  q.scale = np.asarray(scale, np.float32).reshape(-1)
  q.zeroPoint = np.asarray(zero_point, np.int64).reshape(-1)
  q.quantizedDimension = int(axis)
  q.min = q.max = None


def quantization(tensor) -> tuple[np.ndarray, np.ndarray] | None:
  """(scale, zero_point) arrays of a tensor, or None if it has none."""
  q = tensor.quantization
  if q is None or q.scale is None or len(q.scale) == 0:
    return None
  return np.asarray(q.scale, np.float32), np.asarray(q.zeroPoint, np.int64)


def set_data(model, tensor, array: np.ndarray) -> None:
  """Replaces a constant tensor's bytes with `array` (its shape checked).

  Raises:
    ValueError: if the shape differs from the tensor's.
  """
  if tuple(array.shape) != tuple(int(d) for d in tensor.shape):
    raise ValueError(f'{tensor_name(tensor)}: new data of shape {array.shape}'
                     f' for a tensor of shape {tuple(tensor.shape)}')
  buf = model.buffers[tensor.buffer]
  buf.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)
  buf.offset = buf.size = 0


def data(model, tensor, dtype) -> np.ndarray:
  """A constant tensor's values."""
  raw = model.buffers[tensor.buffer].data
  return np.frombuffer(bytes(np.asarray(raw, np.uint8)), dtype).reshape(
      tuple(int(d) for d in tensor.shape))
