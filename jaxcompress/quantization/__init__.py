"""Quantization: uniform quantizers, PTQ, QAT, integer inference, storage.

Modules:
  quantizers   QuantSpec, fake_quant (straight-through), stochastic rounding,
               LSQ learned step sizes
  calibration  ranges by min/max, moving average, percentile, MSE search
  apply        weight specs by (regex, spec) rules and the fake-quant param
               transform; Dense/Conv input quantization by interception
  qat          the Quantizer seam of QAT: range grid or learned steps
  fold_bn      batch norm folded into the preceding layer
  integer      the integer model (int8 x int8 -> int32), int4/2-bit packing
  storage      the compact file format and its float32 twin
  report       measuring a quantized model (fake-quant, integer, files)
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
    spec_dict,
    unpack,
)
from jaxcompress.quantization.qat import (
    Quantizer,
    lsq_quantizer,
    qat_params_fn,
    range_quantizer,
    train_layers,
    with_weight_qparams,
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
from jaxcompress.quantization.report import (
    QuantSettings,
    logits_of,
    params_transform,
    quantized_report,
)
from jaxcompress.quantization.storage import load, save, save_float

__all__ = [
    'IntegerModel', 'LayerQuant', 'QTensor', 'QuantSettings', 'QuantSpec',
    'Quantizer', 'act_specs', 'calibrate', 'calibrate_layers',
    'compute_range', 'convert', 'dequantize', 'fake_quant', 'fake_quant_apply',
    'fake_quant_tensor', 'fold_batch_norm', 'load', 'logits_of',
    'lsq_fake_quant', 'lsq_quantizer', 'pack', 'params_transform',
    'qat_params_fn', 'quantize', 'quantize_params', 'quantize_ste',
    'quantized_report', 'range_quantizer', 'save', 'save_float',
    'scale_zero_point', 'spec_dict', 'train_layers', 'unpack',
    'weight_specs', 'with_weight_qparams',
]
