"""The `quantization` section and the QAT plugin built from it.

Fields (`QuantizationSection`; all optional):

  weight_bits        2..8, or 0 for float weights
  weight_symmetric   True: signed narrow grid, zero point 0; False: affine
  per_channel        one scale per output channel (axis `channel_axis`)
  channel_axis       -1 (Dense (in, out) and Conv HWIO kernels: outputs)
  weight_method      weight range: 'minmax' | 'percentile' | 'mse'
  weight_rules       ((regex, overrides | None), ...) over parameter paths;
                     overrides is a dict of QuantSpec fields replacing the
                     defaults above, None leaves a parameter float. Empty:
                     (('kernel', {}),), every Dense/Conv kernel.
  act_bits           2..8 for the inputs of Dense/Conv layers, 0 for none
  act_symmetric      False: affine inputs (good after ReLU)
  act_method         'minmax' | 'moving_average' | 'percentile' | 'mse'
  act_percentile     for 'percentile'
  act_rules          like weight_rules, over kernel paths, for inputs
  calib_images       training images used to calibrate input ranges
  preserve_sparsity  keep zero weights exactly zero (after a pruning mask)
  save_files         write the integer and float32 files in the workdir
  quantizer          how QAT finds the weight grid: a name in `QUANTIZERS`
                     ('minmax': from the weights' range at every step;
                     'lsq': learned step sizes, Esser et al. 2020)

In training (QAT), weights are fake-quantized by `params_fn` (straight-
through gradients) and layer inputs, if `act_bits`, by interception with each
batch's own range; after training `report` calibrates the input ranges on
`calib_images` training images and measures the integer model
(`quantization.quantized_report`).

A new quantizer is one file in `jaxcompress.quantization` plus one line in
`QUANTIZERS` (or a `register_quantizer` call): a `quantization.Quantizer`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from jaxcompress import quantization as Q
from jaxcompress.plugins import interface
from jaxcompress.plugins import sections as S
from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import calibration
from jaxcompress.quantization.quantizers import QuantSpec

_SPEC_FIELDS = ('bits', 'symmetric', 'axis')

QUANTIZERS: dict[str, Q.Quantizer] = {
    'minmax': Q.range_quantizer(),
    'lsq': Q.lsq_quantizer(),
}


def register_quantizer(name: str, quantizer: Q.Quantizer) -> None:
  """Makes `quantization.quantizer=name` use `quantizer` in QAT."""
  QUANTIZERS[name] = quantizer


@dataclasses.dataclass(frozen=True)
class QuantizationSection:
  """The `quantization` section (see the module docstring)."""
  weight_bits: int = 8
  weight_symmetric: bool = True
  per_channel: bool = True
  channel_axis: int = -1
  weight_method: str = 'minmax'
  weight_rules: tuple = ()
  act_bits: int = 0
  act_symmetric: bool = False
  act_method: str = 'minmax'
  act_percentile: float = 99.99
  act_rules: tuple = ()
  calib_images: int = 500
  preserve_sparsity: bool = False
  save_files: bool = True
  quantizer: str = 'minmax'

  def __post_init__(self):
    for name in ('weight_bits', 'act_bits'):
      bits = getattr(self, name)
      if bits and not 2 <= bits <= 8:
        raise ValueError(f'{name} must be 0 (float) or in 2..8, got {bits}')
    S.check_choice(self.weight_method, apply_lib.WEIGHT_METHODS,
                   'weight_method')
    S.check_choice(self.act_method, calibration.METHODS, 'act_method')
    S.check_choice(self.quantizer, tuple(QUANTIZERS), 'quantizer')
    S.check_range(self.act_percentile, 'act_percentile', 0.0, 100.0,
                  lo_open=True)
    if self.act_bits and self.calib_images <= 0:
      raise ValueError('calib_images must be positive to calibrate '
                       f'activations (got {self.calib_images})')
    for what in ('weight_rules', 'act_rules'):
      S.check_rules(getattr(self, what), what)
      for pattern, override in getattr(self, what):
        _override_spec(self, what, pattern, override)
    if self.act_bits and not self.weight_bits and not self.weight_rules:
      raise ValueError('act_bits without weight_bits: layers with quantized '
                       'inputs need quantized kernels to run in integers; '
                       'set weight_bits (2..8) or act_rules')

  def weight_spec(self) -> QuantSpec | None:
    if not self.weight_bits:
      return None
    axis = self.channel_axis if self.per_channel else None
    return QuantSpec(self.weight_bits, self.weight_symmetric, axis)

  def act_spec(self) -> QuantSpec | None:
    return QuantSpec(self.act_bits, self.act_symmetric) if self.act_bits \
        else None

  def replace(self, **changes) -> QuantizationSection:
    return dataclasses.replace(self, **changes)


def _override_spec(sec, what, pattern, override) -> QuantSpec | None:
  """The QuantSpec a rule gives (its overrides on the section's default)."""
  if override is None:
    return None
  base = sec.weight_spec() if what == 'weight_rules' else sec.act_spec()
  if not isinstance(override, dict):
    raise ValueError(f'{what} value of {pattern!r} must be a dict of QuantSpec '
                     f'fields or None, got {override!r}')
  bad = sorted(set(override) - set(_SPEC_FIELDS))
  if bad:
    raise ValueError(f'{what} {pattern!r}: unknown QuantSpec field(s) {bad}; '
                     f'known: {_SPEC_FIELDS}')
  if base is None and 'bits' not in override:
    raise ValueError(f'{what} {pattern!r} needs bits (the default is float)')
  fields = {f: getattr(base, f) for f in _SPEC_FIELDS} if base else {}
  fields.update(override)
  try:
    return QuantSpec(**fields)
  except ValueError as e:
    raise ValueError(f'{what} {pattern!r}: {e}') from None


def _rules(sec, what, base):
  rules = getattr(sec, what)
  if not rules:
    return [('kernel', base)] if base is not None else []
  return [(p, _override_spec(sec, what, p, o)) for p, o in rules]


def resolve(sec: QuantizationSection, params: Any) -> Q.QuantSettings:
  """Weight specs and per-layer settings for `params`.

  Raises:
    ValueError: unused rules, bad axes, or W+A layers whose per-channel
      weight axis is not the output axis.
  """
  specs = apply_lib.weight_specs(
      params, _rules(sec, 'weight_rules', sec.weight_spec()))
  flat = Q.spec_dict(specs)
  acts = apply_lib.act_specs(params, _rules(sec, 'act_rules', sec.act_spec()))
  layers = {}
  for name, aspec in acts.items():
    lq = Q.LayerQuant(flat.get(f'{name}/kernel'), aspec,
                      weight_method=sec.weight_method)
    apply_lib.check_layer(name, lq, np.ndim(_leaf(params, f'{name}/kernel')))
    layers[name] = lq
  return Q.QuantSettings(specs, layers, sec.weight_method,
                         sec.preserve_sparsity, sec.calib_images,
                         sec.act_method, sec.act_percentile, sec.save_files)


def _leaf(tree, path):
  for k in path.split('/'):
    tree = tree[k]
  return tree


def build(sec: QuantizationSection, ctx: interface.Context
          ) -> interface.Plugin:
  """The quantization-aware-training plugin."""
  settings = resolve(sec, ctx.variables['params'])
  quantizer = QUANTIZERS[sec.quantizer]
  if quantizer.trainable and ctx.variables.get('batch_stats'):
    raise ValueError(f'quantization.quantizer={sec.quantizer!r} learns the '
                     'grids of unfolded kernels; batch-norm folding would '
                     f'change them ({ctx.settings.model} has batch norm)')
  params_fn, aux_init = Q.qat_params_fn(settings, quantizer)
  layers = Q.train_layers(settings, quantizer)
  wrap = ((lambda apply: apply_lib.fake_quant_apply(apply, layers))
          if layers else None)
  s = ctx.settings

  def report(state, ctx):
    aux = state.aux.get('quantization')
    return Q.quantized_report(
        ctx.model, state.variables(),
        lambda p: Q.with_weight_qparams(resolve(sec, p), quantizer, aux, p),
        ctx.train_images, ctx.test_images, ctx.test_labels, ctx.workdir,
        s.model, s.model_kwargs, prefix='qat_', test_logits=ctx.test_logits)

  return interface.Plugin(name='quantization', params_fn=params_fn,
                          aux_init=aux_init, wrap_apply=wrap, report=report)
