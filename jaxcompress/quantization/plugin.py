"""The `config.quantization` section and the QAT plugin built from it.

Section fields (all optional; `default_section()` lists them):

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

In training (QAT), weights are fake-quantized by `params_fn` (straight-
through gradients) and layer inputs, if `act_bits`, by interception with each
batch's own range; after training `report` calibrates the input ranges on
`calib_images` training images and measures the integer model
(`ptq.quantized_report`).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import ml_collections
import numpy as np

from jaxcompress import plugin as plugin_lib
from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import calibration
from jaxcompress.quantization.apply import LayerQuant
from jaxcompress.quantization.quantizers import QuantSpec

_SPEC_FIELDS = ('bits', 'symmetric', 'axis', 'rounding')


def default_section() -> ml_collections.ConfigDict:
  """Every field of the quantization section with its default."""
  return ml_collections.ConfigDict(dict(
      weight_bits=8, weight_symmetric=True, per_channel=True, channel_axis=-1,
      weight_method='minmax', weight_rules=(),
      act_bits=0, act_symmetric=False, act_method='minmax',
      act_percentile=99.99, act_rules=(),
      calib_images=500, preserve_sparsity=False,
      save_files=True))


def _get(section, name):
  defaults = default_section()
  return section[name] if name in section else defaults[name]


def check_config(section) -> None:
  """Raises ValueError for impossible settings, before anything runs."""
  for key in section:
    if key not in default_section() and key not in ('variants', 'qat',
                                                    'float_workdir'):
      raise ValueError(f'Unknown quantization field {key!r}; known: '
                       f'{sorted(default_section())}')
  wb, ab = _get(section, 'weight_bits'), _get(section, 'act_bits')
  if wb:
    QuantSpec(wb)
  if ab:
    QuantSpec(ab)
  if _get(section, 'weight_method') not in apply_lib.WEIGHT_METHODS:
    raise ValueError(f'Unknown weight_method {_get(section, "weight_method")!r}'
                     f'; known: {apply_lib.WEIGHT_METHODS}')
  if _get(section, 'act_method') not in calibration.METHODS:
    raise ValueError(f'Unknown act_method {_get(section, "act_method")!r}; '
                     f'known: {calibration.METHODS}')
  if ab and _get(section, 'calib_images') <= 0:
    raise ValueError('calib_images must be positive to calibrate activations '
                     '(an empty calibration set)')


def weight_spec(section) -> QuantSpec | None:
  bits = _get(section, 'weight_bits')
  if not bits:
    return None
  return QuantSpec(bits, _get(section, 'weight_symmetric'),
                   _get(section, 'channel_axis')
                   if _get(section, 'per_channel') else None)


def act_spec(section) -> QuantSpec | None:
  bits = _get(section, 'act_bits')
  return QuantSpec(bits, _get(section, 'act_symmetric')) if bits else None


def _rules(rules, base: QuantSpec | None):
  if not rules:
    return [('kernel', base)] if base is not None else []
  out = []
  for pattern, override in rules:
    if override is None:
      out.append((pattern, None))
    else:
      override = dict(override)
      bad = set(override) - set(_SPEC_FIELDS)
      if bad:
        raise ValueError(f'Unknown QuantSpec fields {sorted(bad)} in rule '
                         f'{pattern!r}')
      if base is None and 'bits' not in override:
        raise ValueError(f'Rule {pattern!r} needs bits (weight_bits is 0)')
      fields = {f: getattr(base, f) for f in _SPEC_FIELDS} if base else {}
      fields.update(override)
      out.append((pattern, QuantSpec(**fields)))
  return out


class Settings(NamedTuple):
  """Resolved settings: weight specs pytree and per-layer LayerQuant."""
  specs: Any
  layers: dict[str, LayerQuant]
  weight_method: str


def resolve(section, params: Any) -> Settings:
  """Weight specs and layer settings for `params` from a section.

  Raises:
    ValueError: unused rules, bad axes, or W+A layers whose per-channel
      weight axis is not the output axis.
  """
  check_config(section)
  method = _get(section, 'weight_method')
  specs = apply_lib.weight_specs(
      params, _rules(_get(section, 'weight_rules'), weight_spec(section)))
  flat = _flat_specs(specs)
  acts = apply_lib.act_specs(
      params, _rules(_get(section, 'act_rules'), act_spec(section)))
  layers = {}
  for name, aspec in acts.items():
    lq = LayerQuant(flat.get(f'{name}/kernel'), aspec, weight_method=method)
    apply_lib.check_layer(name, lq, np.ndim(_leaf(params, f'{name}/kernel')))
    layers[name] = lq
  return Settings(specs, layers, method)


def _flat_specs(specs):
  from jaxcompress.quantization.integer import spec_dict
  return spec_dict(specs)


def _leaf(tree, path):
  for k in path.split('/'):
    tree = tree[k]
  return tree


def params_transform(settings: Settings, preserve_sparsity: bool = False):
  """`params -> params` fake-quantizing the weights not handled by layers.

  Kernels of layers with quantized inputs are quantized inside the layer
  (`apply.fake_quant_layer`), so they are left alone here.
  """
  inside = {f'{n}/kernel' for n, lq in settings.layers.items()
            if lq.weight is not None}
  specs = jax.tree_util.tree_map_with_path(
      lambda p, s: None if _path(p) in inside else s, settings.specs,
      is_leaf=lambda x: x is None)
  method = settings.weight_method

  def params_fn(params):
    return apply_lib.quantize_params(params, specs, method, preserve_sparsity)

  return params_fn


def _path(p):
  from jaxcompress.rules import path_str
  return path_str(p)


def plugin_from_config(section, ctx: plugin_lib.Context) -> plugin_lib.Plugin:
  """Quantization-aware training plugin for `config.quantization`."""
  from jaxcompress.quantization import ptq  # avoids an import cycle
  settings = resolve(section, ctx.variables['params'])
  params_fn = params_transform(settings, _get(section, 'preserve_sparsity'))
  dynamic = {n: lq for n, lq in settings.layers.items()}
  wrap = ((lambda apply: apply_lib.fake_quant_apply(apply, dynamic))
          if dynamic else None)

  def report(state, ctx):
    return ptq.quantized_report(
        ctx.model, state.variables(), section, ctx.train_images,
        ctx.test_images, ctx.test_labels, ctx.workdir, ctx.config,
        prefix='qat_')

  return plugin_lib.Plugin(name='quantization', params_fn=params_fn,
                           wrap_apply=wrap, report=report)
