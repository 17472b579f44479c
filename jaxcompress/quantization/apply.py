"""Where quantization applies: weights by rules, layer inputs by interception.

Weights: `weight_specs(params, rules)` picks a `QuantSpec` (or None) per
parameter with the shared rule engine (`jaxcompress.rules`), and
`quantize_params` fake-quantizes them as a pure, differentiable transform of
the parameter pytree (a `Plugin.params_fn`). Ranges come from the weights
themselves ('minmax', 'percentile' or 'mse', see `calibration`), recomputed
on every call, so QAT tracks the moving weights.

Activations: the inputs of Dense and Conv layers are quantized without
touching model code, by intercepting their `__call__` with
`flax.linen.intercept_methods`. For a layer with quantized inputs the
interceptor also quantizes the kernel and computes the layer as

  y = (s_x s_w) * sum_k (q_x - z_x)_k (q_w - z_w)_k + b,

the integer codes multiplied as integer-valued float32 (exact while partial
sums stay below 2^24) and rescaled once. The integer model (`integer.py`)
evaluates the same formula with int8 operands and an int32 accumulator, so
its logits equal this fake-quant evaluation bit for bit. Mathematically this
is ``dot(fake_quant(x), fake_quant(w))``, and so are its gradients (straight
through): ``d y / d x = g fake_quant(w)^T`` inside the range.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxcompress import layers
from jaxcompress import rules as rules_lib
from jaxcompress.quantization import calibration
from jaxcompress.quantization import quantizers as qz
from jaxcompress.quantization.quantizers import QuantSpec

WEIGHT_METHODS = ('minmax', 'percentile', 'mse')
_IS_NONE = lambda x: x is None


# ---------------------------------------------------------------- weights ---


def weight_specs(params: Any, rules: Sequence[tuple[str, QuantSpec | None]],
                 default: QuantSpec | None = None) -> Any:
  """A pytree of `QuantSpec | None` shaped like `params`, chosen by rules.

  Raises:
    ValueError: a rule matching nothing, a setting that is not a QuantSpec,
      or a per-channel axis out of range for the parameter it matched.
  """
  specs = rules_lib.apply_rules(params, rules, default)

  def check(path, spec, leaf):
    if spec is None:
      return
    name = rules_lib.path_str(path)
    if not isinstance(spec, QuantSpec):
      raise ValueError(f'Rule setting for {name} must be a QuantSpec or None, '
                       f'got {spec!r}')
    try:
      spec.check_rank(np.ndim(leaf))
    except ValueError as e:
      raise ValueError(f'{name} (shape {np.shape(leaf)}): {e}') from None

  jax.tree_util.tree_map_with_path(check, specs, params, is_leaf=_IS_NONE)
  return specs


def weight_qparams(w: jax.Array, spec: QuantSpec, method: str = 'minmax'
                   ) -> tuple[jax.Array, jax.Array]:
  """Scale and zero point of a weight tensor from its own range."""
  lo, hi = calibration.compute_range(jax.lax.stop_gradient(w), spec, method)
  return qz.scale_zero_point(lo, hi, spec)


def _check_method(method):
  if method not in WEIGHT_METHODS:
    raise ValueError(f'Unknown weight range method {method!r}; known: '
                     f'{WEIGHT_METHODS}')


def quantize_params(params: Any, specs: Any, method: str = 'minmax',
                    preserve_sparsity: bool = False,
                    qparams: Mapping[str, tuple[Any, Any]] | None = None
                    ) -> Any:
  """Fake-quantizes every parameter that has a spec (pure, differentiable).

  Args:
    params: parameter pytree.
    specs: `weight_specs(params, rules)`.
    method: weight range method, 'minmax', 'percentile' or 'mse'.
    preserve_sparsity: multiply each result by ``w != 0`` so weights that a
      pruning mask zeroed stay exactly zero whatever the grid (with zero
      exactly representable they already do; this makes it a guarantee).
    qparams: explicit ``(scale, zero_point)`` per '/'-joined parameter path
      (learned step sizes); other parameters take theirs from their range.

  Returns:
    Params of the same structure, quantized leaves replaced by
    ``s (clip(round(w/s) + z) - z)`` with straight-through gradients.
  """
  _check_method(method)
  qparams = qparams or {}

  def one(path, spec, w):
    if spec is None:
      return w
    name = rules_lib.path_str(path)
    scale, zp = (qparams[name] if name in qparams
                 else weight_qparams(w, spec, method))
    out = scale * qz.quantize_ste(w, scale, zp, spec)
    if preserve_sparsity:
      out = jnp.where(w != 0, out, 0.0)
    return out

  return jax.tree_util.tree_map_with_path(one, specs, params,
                                          is_leaf=_IS_NONE)


# ------------------------------------------------------- layer interception ---


@dataclasses.dataclass(frozen=True)
class LayerQuant:
  """How one Dense/Conv layer computes in quantized form.

  Attributes:
    weight: spec of its kernel (None: float kernel).
    act: spec of its input (None: float input; the layer is then left to
      flax and only `weight` applies, through `quantize_params`).
    act_scale, act_zero_point: calibrated input range as scale and zero
      point (scalars); None means dynamic (the batch's own min/max, used
      while training QAT with activations).
    weight_method: range method of the kernel.
    weight_scale, weight_zero_point: an explicit kernel grid (learned step
      sizes); None: from the kernel's range by `weight_method`.
  """
  weight: QuantSpec | None
  act: QuantSpec | None
  act_scale: Any = None
  act_zero_point: Any = None
  weight_method: str = 'minmax'
  weight_scale: Any = None
  weight_zero_point: Any = None

  def kernel_qparams(self, kernel: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Scale and zero point of this layer's kernel grid."""
    if self.weight_scale is not None:
      return (jnp.asarray(self.weight_scale, jnp.float32),
              jnp.asarray(self.weight_zero_point, jnp.float32))
    return weight_qparams(kernel, self.weight, self.weight_method)


def layer_name(kernel_path: str) -> str:
  """'fc1/kernel' -> 'fc1' (the module path the interceptor sees)."""
  return kernel_path.rsplit('/', 1)[0]


def _kernel_paths(params) -> list[str]:
  return [n for n, _ in rules_lib.named_leaves(params)
          if n.endswith('/kernel')]


def act_specs(params: Any, rules: Sequence[tuple[str, QuantSpec | None]],
              default: QuantSpec | None = None) -> dict[str, QuantSpec]:
  """Input specs per layer, `{layer: spec}`, from rules over kernel paths.

  Raises:
    ValueError: unused rule, a per-channel activation spec (inputs are
      quantized per tensor), or a setting that is not a QuantSpec.
  """
  kernels = {n: 0 for n in _kernel_paths(params)}
  chosen = rules_lib.apply_rules(kernels, rules, default) if kernels else {}
  out = {}
  for name in kernels:
    spec = chosen[name]
    if spec is None:
      continue
    if not isinstance(spec, QuantSpec):
      raise ValueError(f'Activation rule setting for {name} must be a '
                       f'QuantSpec or None, got {spec!r}')
    if spec.axis is not None:
      raise ValueError(f'Activation quantization of {name} must be per tensor '
                       f'(axis=None), got axis={spec.axis}')
    out[layer_name(name)] = spec
  return out


def _conv_pads(module: nn.Conv, x_shape, k_shape) -> list[tuple[int, int]]:
  padding = module.padding
  nsp = len(k_shape) - 2
  if isinstance(padding, str):
    if padding not in ('SAME', 'VALID'):
      raise ValueError(f'Quantized conv supports SAME/VALID/explicit padding, '
                       f'got {padding!r}')
    strides = _tuple(module.strides, nsp)
    dil = _tuple(module.kernel_dilation, nsp)
    eff = [(k - 1) * d + 1 for k, d in zip(k_shape[:nsp], dil)]
    return jax.lax.padtype_to_pads(x_shape[1:1 + nsp], eff, strides, padding)
  if isinstance(padding, int):
    return [(padding, padding)] * nsp
  return [(p, p) if isinstance(p, int) else tuple(p) for p in padding]


def _tuple(v, n):
  if v is None:
    return (1,) * n
  return (v,) * n if isinstance(v, int) else tuple(v)


def _check_module(module):
  if isinstance(module, nn.Conv):
    if module.feature_group_count != 1:
      raise ValueError(f'{"/".join(module.path)}: grouped convolutions are not '
                       'supported by quantized layers')
    if any(d != 1 for d in _tuple(module.input_dilation, 3)):
      raise ValueError('input_dilation is not supported by quantized layers')


def contract(module: nn.Module, x: jax.Array, k: jax.Array,
             pads=None, preferred_element_type=None) -> jax.Array:
  """The layer's linear map (no bias): Dense dot or Conv convolution."""
  if isinstance(module, nn.Dense):
    return jax.lax.dot_general(
        x, k, (((x.ndim - 1,), (0,)), ((), ())),
        precision=jax.lax.Precision.HIGHEST,
        preferred_element_type=preferred_element_type)
  nsp = k.ndim - 2
  if pads is None:
    pads = _conv_pads(module, x.shape, k.shape)
  dn = jax.lax.conv_dimension_numbers(
      x.shape, k.shape, ('N' + 'HWD'[:nsp] + 'C', 'HWD'[:nsp] + 'IO',
                         'N' + 'HWD'[:nsp] + 'C'))
  # The zoo's convolution (same forward; gradients that stay fast inside
  # a scanned epoch on CPU), so quantization-aware training trains as fast.
  return layers.conv_general_dilated(
      x, k, _tuple(module.strides, nsp), pads,
      rhs_dilation=_tuple(module.kernel_dilation, nsp),
      dimension_numbers=dn, precision=jax.lax.Precision.HIGHEST,
      preferred_element_type=preferred_element_type)


def _out_channel_scale(scale: jax.Array) -> jax.Array:
  """Per-tensor scalar or per-output-channel vector from a keepdims scale."""
  return jnp.reshape(scale, (-1,)) if jnp.size(scale) > 1 else jnp.reshape(
      scale, ())


def check_layer(name: str, lq: LayerQuant, kernel_ndim: int) -> None:
  """Raises ValueError if a W+A layer's weight grid cannot be factored out."""
  if lq.act is None or lq.weight is None:
    return
  axis = lq.weight.check_rank(kernel_ndim)
  if axis is not None and axis != kernel_ndim - 1:
    raise ValueError(
        f'{name}: with quantized inputs, per-channel weight scales must be on '
        f'the output axis ({kernel_ndim - 1} or -1), got axis={lq.weight.axis}')


def act_qparams(x: jax.Array, lq: LayerQuant) -> tuple[jax.Array, jax.Array]:
  """Calibrated (or, if None, the batch's own) input scale and zero point."""
  if lq.act_scale is not None:
    return (jnp.asarray(lq.act_scale, jnp.float32),
            jnp.asarray(lq.act_zero_point, jnp.float32))
  lo, hi = jax.lax.stop_gradient(qz.tensor_range(x, lq.act))
  return qz.scale_zero_point(jnp.reshape(lo, ()), jnp.reshape(hi, ()), lq.act)


def fake_quant_layer(module: nn.Module, x: jax.Array, lq: LayerQuant
                     ) -> jax.Array:
  """The layer on fake-quantized input and kernel, codes multiplied exactly."""
  params = module.variables['params']
  kernel = params['kernel']
  s_x, z_x = act_qparams(x, lq)
  xc = qz.quantize_ste(x, s_x, z_x, lq.act)
  if lq.weight is None:
    y = s_x * contract(module, xc, kernel)
  else:
    s_w, z_w = lq.kernel_qparams(kernel)
    wc = qz.quantize_ste(kernel, s_w, z_w, lq.weight)
    y = contract(module, xc, wc) * (s_x * _out_channel_scale(s_w))
  if 'bias' in params:
    y = y + params['bias']
  return y


def intercept_layers(apply_fn: Callable, layer_fn: Callable,
                     names: Mapping[str, Any]) -> Callable:
  """`apply_fn` with Dense/Conv layers named in `names` computed by
  `layer_fn(module, x, names[name])` instead of their own `__call__`."""

  def interceptor(next_fun, args, kwargs, context):
    module = context.module
    if (context.method_name == '__call__'
        and isinstance(module, (nn.Dense, nn.Conv))):
      name = '/'.join(module.path)
      if name in names:
        _check_module(module)
        return layer_fn(module, args[0], names[name])
    return next_fun(*args, **kwargs)

  def wrapped(variables, *args, **kwargs):
    with nn.intercept_methods(interceptor):
      return apply_fn(variables, *args, **kwargs)

  return wrapped


def fake_quant_apply(apply_fn: Callable, layers: Mapping[str, LayerQuant]
                     ) -> Callable:
  """`apply_fn` whose layers with quantized inputs run `fake_quant_layer`."""
  active = {n: lq for n, lq in layers.items() if lq.act is not None}
  return intercept_layers(apply_fn, fake_quant_layer, active)


def capture_inputs(apply_fn: Callable, variables: Any, images: np.ndarray,
                   names: Sequence[str], batch_size: int = 256
                   ) -> dict[str, list[np.ndarray]]:
  """Inputs of the named Dense/Conv layers on `images`, batch by batch.

  Raises:
    ValueError: if `images` is empty.
  """
  if len(images) == 0:
    raise ValueError('cannot calibrate activations on an empty set of images')
  names = list(names)

  @jax.jit
  def run(variables, x):
    seen = {}

    def record(next_fun, args, kwargs, context):
      module = context.module
      if (context.method_name == '__call__'
          and isinstance(module, (nn.Dense, nn.Conv))):
        name = '/'.join(module.path)
        if name in names:
          seen[name] = args[0]
      return next_fun(*args, **kwargs)

    with nn.intercept_methods(record):
      apply_fn(variables, x, train=False)
    return seen

  out = {n: [] for n in names}
  for i in range(0, len(images), batch_size):
    seen = run(variables, images[i:i + batch_size])
    missing = set(names) - set(seen)
    if missing:
      raise ValueError(f'Layers {sorted(missing)} were not called by the model')
    for n in names:
      out[n].append(np.asarray(seen[n]))
  return out


def calibrate_layers(apply_fn: Callable, variables: Any, images: np.ndarray,
                     layers: Mapping[str, LayerQuant], method: str = 'minmax',
                     batch_size: int = 256, **kwargs
                     ) -> dict[str, LayerQuant]:
  """`layers` with calibrated input ranges (`calibration.calibrate`)."""
  names = [n for n, lq in layers.items() if lq.act is not None]
  inputs = capture_inputs(apply_fn, variables, images, names, batch_size)
  out = dict(layers)
  for n in names:
    scale, zp = calibration.calibrate(inputs[n], layers[n].act, method,
                                      **kwargs)
    out[n] = dataclasses.replace(
        layers[n], act_scale=np.float32(np.reshape(scale, ())),
        act_zero_point=np.float32(np.reshape(zp, ())))
  return out
