"""Export to LiteRT (.tflite) and evaluation where the model would run.

  convert   Flax model -> .tflite, float / dynamic-range / int8 (jax2tf and
            the TFLite converter), errors naming a layer that cannot export
  carry     a jaxcompress IntegerModel's own int8 grid written into the file
  space_to_depth  a one-channel convolution as a CONV_2D of four channels
            (quantized files; LiteRT's int8 depthwise kernel is slow)
  litert    LiteRT interpreter: logits, test error, batch-1 latency
  runs      a finished run's workdir -> its exports (the one module that
            reads workdirs)
"""

from jaxcompress.export.carry import carry_integer_model, check_integer_model
from jaxcompress.export.convert import (
    QUANTIZE,
    check_quantize,
    function_to_tflite,
    to_tflite,
)
from jaxcompress.export.litert import (
    error,
    interpreter,
    latency_ms,
    op_names,
    predict,
    runner,
    time_alternating,
)

__all__ = [
    'QUANTIZE', 'carry_integer_model', 'check_integer_model', 'check_quantize',
    'error', 'function_to_tflite',
    'interpreter', 'latency_ms', 'op_names', 'predict', 'runner',
    'time_alternating', 'to_tflite',
]
