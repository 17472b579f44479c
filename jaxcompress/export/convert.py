"""Flax model -> LiteRT flatbuffer (.tflite): float, dynamic-range or int8.

The route is the one the LiteRT documentation gives for JAX: the model's
forward pass, with its variables closed over as constants, is lowered by
`jax.experimental.jax2tf.convert` into a TensorFlow function, and
`tf.lite.TFLiteConverter` turns that function into builtin LiteRT ops.
In jax 0.10.2 jax2tf has only its native mode: the TF function is one
`XlaCallModule` op carrying the StableHLO of the forward pass (the op-by-op
mode and the `enable_xla` / `native_serialization` arguments are gone or
deprecated), and the converter of TensorFlow 2.21 legalizes that StableHLO
to LiteRT ops. Batch norm is folded into the preceding Dense/Conv first
(`fold.py`; tested: no batch-norm arithmetic is left in the file).

Quantization modes (`QUANTIZE`):

| mode      | weights                     | activations                     |
|-----------|-----------------------------|---------------------------------|
| 'none'    | float32                     | float32                         |
| 'dynamic' | int8, per output channel    | float32 (quantized on the fly)  |
| 'int8'    | int8, per output channel    | int8, ranges calibrated by the  |
|           |                             | converter on `calibration_images`|

A model with transformer ops (`TRANSFORMER_OPS`: layer norm, softmax, GELU,
attention products) is exported with int8 kernels only (`float_ops`; the
converter's selective quantization, `tf.lite.experimental.
QuantizationDebugger` with those ops denylisted): XNNPACK runs the int8
kernels, the rest stays float as in jaxcompress's integer model, and the
file is faster than its float twin where full int8 was slower.

Full-integer conversion always calibrates: the converter needs a
representative dataset and records min/max ranges of every activation itself
(Jacob et al. 2018, the TFLite int8 scheme). To export a jaxcompress integer
model with its own scales, convert it here and then rewrite the grid with
`carry.carry_integer_model`.

Quantized files write a convolution of one input channel (LeNet-5's conv1,
a ResNet stem) as a CONV_2D of the 2x2 space-to-depth input
(`space_to_depth`): the converter would emit it as a DEPTHWISE_CONV_2D with
a channel multiplier, whose int8 kernel made LeNet-5's int8 file slower than
its dynamic-range twin. A shrunk MLP's input-pixel gather becomes zero rows
of fc1 (`fold.ungathered`): LiteRT runs GATHER_ND outside XNNPACK, and it
cost the shrunk LeNet-300-100 more than the skipped pixels save (the file
grows by the zero rows). Float files keep the model's own graph.

The input is a batch of one NHWC image (edge inference is batch 1); the
output is float32 logits in every mode.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from jax.extend import core as jex_core

from jaxcompress.export import fold, litert

QUANTIZE = ('none', 'dynamic', 'int8')


def check_quantize(quantize: str) -> None:
  """Raises ValueError if `quantize` is not one of `QUANTIZE`."""
  if quantize not in QUANTIZE:
    raise ValueError(f'Unknown quantize mode {quantize!r}; known: {QUANTIZE}')


def _check_images(images, input_shape, what: str) -> np.ndarray:
  if images is None:
    raise ValueError(f'{what} are required for int8 export: the converter '
                     'calibrates activation ranges on them')
  images = np.asarray(images, np.float32)
  if images.ndim != len(input_shape) + 1 or images.shape[1:] != tuple(
      input_shape):
    raise ValueError(f'{what} must have shape (N,) + {tuple(input_shape)}, '
                     f'got {images.shape}')
  if len(images) == 0:
    raise ValueError(f'{what} are empty: nothing to calibrate on')
  if not np.all(np.isfinite(images)):
    raise ValueError(f'{what} hold a NaN or infinite value')
  return images


def to_tflite(model: nn.Module, variables: Any, *,
              input_shape: Sequence[int], quantize: str = 'none',
              calibration_images: np.ndarray | None = None,
              sparse: bool = False) -> bytes:
  """Converts `model.apply(variables, x, train=False)` to a .tflite file.

  Args:
    model: a Flax Linen module (any zoo model, shrunk ones included).
    variables: its variables ({'params': ..., maybe 'batch_stats': ...}).
    quantize: 'none', 'dynamic' or 'int8' (module docstring).
    calibration_images: for 'int8', the images the converter calibrates
      activation ranges on, shape (N,) + input_shape.
    input_shape: one example's shape (HWC; a run's `results['input_shape']`).
    sparse: also apply the converter's sparsity encoding
      (`tf.lite.Optimize.EXPERIMENTAL_SPARSITY`) to weights with zeros.

  Returns:
    The .tflite flatbuffer, one input (1,) + input_shape float32, one output
    float32 logits.

  Raises:
    ValueError: an unknown mode, missing or malformed calibration images,
      variables without 'params', a batch norm that follows no layer, or,
      naming the layer, an op the converter cannot lower to LiteRT; the
      argument checks run before compiling.
  """
  check_quantize(quantize)
  if 'params' not in variables:
    raise ValueError("variables have no 'params' collection")
  input_shape = tuple(int(d) for d in input_shape)
  # Quantized files get the lowerings LiteRT's int8 kernels run faster
  # (`fold.inference_fn`); float keeps the model's own graph (the rewritten
  # one is no faster in float and a bigger file).
  forward = fold.inference_fn(model, variables, input_shape,
                              int8_lowering=quantize != 'none')
  return function_to_tflite(forward, input_shape=input_shape, quantize=quantize,
                            calibration_images=calibration_images,
                            sparse=sparse)


def function_to_tflite(forward, *, input_shape: Sequence[int],
                       quantize: str = 'none',
                       calibration_images: np.ndarray | None = None,
                       sparse: bool = False) -> bytes:
  """`to_tflite` of a function ``x -> y`` of one batch of images (its
  weights closed over as constants): any part of a forward pass, such as
  the first layers of a model (benchmarks/edge_stages.py).

  Raises:
    ValueError: as `to_tflite`, naming the layer the converter could not
      lower.
  """
  check_quantize(quantize)
  input_shape = tuple(int(d) for d in input_shape)
  if quantize == 'int8':
    calibration_images = _check_images(calibration_images, input_shape,
                                       'calibration_images')
  import tensorflow as tf
  from jax.experimental import jax2tf

  spec = tf.TensorSpec((1,) + input_shape, tf.float32, name='images')
  fn = tf.function(jax2tf.convert(forward, with_gradient=False),
                   input_signature=[spec], autograph=False)
  converter = tf.lite.TFLiteConverter.from_concrete_functions(
      [fn.get_concrete_function()], fn)
  optimizations = []
  if quantize != 'none':
    optimizations.append(tf.lite.Optimize.DEFAULT)
  if sparse:
    optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
  converter.optimizations = optimizations
  try:
    if quantize != 'int8':
      return converter.convert()
    images = calibration_images
    calibration = lambda: ([images[i:i + 1]] for i in range(len(images)))
    converter.representative_dataset = calibration
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    full = converter.convert()
    kept_float = float_ops(litert.op_names(full))
    if not kept_float:
      return full
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter, debug_dataset=calibration,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(
            denylisted_ops=kept_float))
    return debugger.get_nondebug_quantized_model()
  except Exception as e:  # the converter raises its own ConverterError
    raise ValueError(unsupported_layer_message(
        forward, np.zeros((1,) + input_shape, np.float32), str(e))) from e


# Ops that make an int8 export keep everything but its kernels float.
TRANSFORMER_OPS = frozenset({'BATCH_MATMUL', 'SOFTMAX', 'RSQRT', 'GELU'})
KERNEL_OPS = frozenset({'FULLY_CONNECTED', 'CONV_2D', 'DEPTHWISE_CONV_2D'})


def float_ops(ops: Sequence[str]) -> list[str]:
  """The op types an int8 export keeps float, given a full-int8 file's
  `ops`: none for a model of kernels, activations, pooling and reshapes;
  for a model with any of `TRANSFORMER_OPS` (layer norm's rsqrt, softmax,
  GELU, the attention products) every op but the kernels (`KERNEL_OPS`), as
  jaxcompress's integer model keeps them. `benchmarks/edge_latency.py`
  on the MNIST ViT (LiteRT, batch 1, 1 thread): kernels-only int8 0.0627 ms
  at 1.25% test error against the float file's 0.0985 ms at 1.26%; before
  this rule its full-int8 file ran in 0.1195 ms at 1.50%.
  """
  ops = set(ops) - {'QUANTIZE', 'DEQUANTIZE'}
  if not ops & TRANSFORMER_OPS:
    return []
  return sorted(ops - KERNEL_OPS)


# ------------------------------------------- naming the layer that failed ---


def _failing_ops(message: str) -> set[str]:
  """StableHLO op names the converter's message says it could not lower."""
  ops = set(re.findall(r"'vhlo\.(\w+?)_v\d+' op", message))
  ops |= set(re.findall(r"'stablehlo\.(\w+)' op", message))
  if not ops and ('custom op' in message or 'custom_call' in message):
    ops.add('custom_call')
  return ops


def _eqns(jaxpr, stack: str = ''):
  """(equation, enclosing name stack) of a jaxpr, sub-jaxprs flattened."""
  for eqn in jaxpr.eqns:
    here = '/'.join(s for s in (stack, str(eqn.source_info.name_stack)) if s)
    subs = list(jex_core.jaxprs_in_params(eqn.params))
    if subs:
      for sub in subs:
        yield from _eqns(sub, here)
    else:
      yield eqn, here


def _lowered_ops(eqn) -> set[str]:
  """StableHLO op names one equation lowers to."""
  args = [v.val if isinstance(v, jex_core.Literal) else
          jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype)
          for v in eqn.invars]
  avals = [a for a in args if isinstance(a, jax.ShapeDtypeStruct)]

  def one(*xs):
    it = iter(xs)
    full = [next(it) if isinstance(a, jax.ShapeDtypeStruct) else a
            for a in args]
    return eqn.primitive.bind(*full, **eqn.params)

  try:
    text = jax.jit(one).lower(*avals).as_text()
  except Exception:  # noqa: BLE001 - an equation that cannot stand alone
    return set()
  return set(re.findall(r'stablehlo\.(\w+)', text))


def _layer(stack: str) -> str:
  """'LeNet5/conv1/jit(sort)' -> 'conv1'; the model's own body by class."""
  parts = [p for p in stack.split('/') if p and '(' not in p]
  if len(parts) > 1:
    return '/'.join(parts[1:])
  owner = parts[0] if parts else 'model'
  return f'{owner} (the model body, outside its named layers)'


def unsupported_layer_message(forward, x: np.ndarray, message: str) -> str:
  """A converter failure, attributed to the layer whose op could not lower.

  Every equation of the forward pass is lowered on its own and matched
  against the ops the converter's message names; the first match's Flax
  name stack gives the layer.
  """
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  first = next((line for line in lines if 'error:' in line),
               lines[0] if lines else 'unknown error')
  ops = _failing_ops(message)
  if ops:
    jaxpr = jax.make_jaxpr(forward)(x).jaxpr
    for eqn, stack in _eqns(jaxpr):
      name = eqn.primitive.name
      if name in ops or ops & _lowered_ops(eqn):
        return (f'Cannot export layer {_layer(stack)!r} to LiteRT: its op '
                f'{name!r} (stablehlo.{sorted(ops)[0]}) has no LiteRT '
                f'lowering. Converter: {first}')
  return ('The LiteRT converter failed and the op could not be traced to a '
          f'layer. Converter: {first}')
