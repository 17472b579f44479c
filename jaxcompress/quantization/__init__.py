"""Quantization: uniform quantizers, PTQ, QAT, integer inference, storage.

Modules:
  quantizers   QuantSpec, fake_quant (straight-through), stochastic rounding,
               LSQ learned step sizes
  calibration  ranges by min/max, moving average, percentile, MSE search
  apply        weight specs by (regex, spec) rules and the fake-quant param
               transform; Dense/Conv input quantization by interception
  fold_bn      batch norm folded into the preceding layer
  integer      the integer model (int8 x int8 -> int32), int4/2-bit packing
  storage      the compact file format and its float32 twin
  plugin       the `config.quantization` section -> QAT Plugin
  ptq          PTQ / QAT experiment entry and the shared report
"""

from jaxcompress.quantization.apply import (
    LayerQuant,
    act_specs,
    calibrate_layers,
    fake_quant_apply,
    quantize_params,
    weight_specs,
)
from jaxcompress.quantization.calibration import calibrate, compute_range
from jaxcompress.quantization.fold_bn import fold_batch_norm
from jaxcompress.quantization.integer import (
    IntegerModel,
    QTensor,
    convert,
    pack,
    unpack,
)
from jaxcompress.quantization.plugin import (
    check_config,
    default_section,
    plugin_from_config,
)
from jaxcompress.quantization.quantizers import (
    QuantSpec,
    dequantize,
    fake_quant,
    fake_quant_tensor,
    lsq_fake_quant,
    quantize,
    quantize_ste,
    scale_zero_point,
)
from jaxcompress.quantization.storage import load, save, save_float

__all__ = [
    'IntegerModel', 'LayerQuant', 'QTensor', 'QuantSpec', 'act_specs',
    'calibrate', 'calibrate_layers', 'check_config', 'compute_range', 'convert',
    'default_section', 'dequantize', 'fake_quant', 'fake_quant_apply',
    'fake_quant_tensor', 'fold_batch_norm', 'load', 'lsq_fake_quant', 'pack',
    'plugin_from_config', 'quantize', 'quantize_params', 'quantize_ste',
    'save', 'save_float', 'scale_zero_point', 'unpack',
    'weight_specs',
]
