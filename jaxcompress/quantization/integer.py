"""Integer inference: int8 x int8 -> int32 layers on stored integer weights.

`convert` turns float variables plus quantization settings into an
`IntegerModel`: every quantized parameter becomes a `QTensor` (int8 codes, or
for 2 to 4 bits codes packed several per byte, plus float32 scales and zero
points). `IntegerModel.apply` runs the unchanged flax model with its Dense and
Conv layers intercepted; a layer with quantized inputs computes

  q_x = clip(round(x / s_x) + z_x)                       (int8, shifted)
  acc = sum_k q_x q_w                                    (int8 x int8 -> int32,
        - z_w sum_k q_x - z_x sum_k q_w + K z_x z_w       lax.dot_general /
                                                          conv_general_dilated
                                                          preferred_element_type
                                                          = int32)
  y   = float32(acc) * (s_x s_w) + b

i.e. ``sum_k (q_x - z_x)(q_w - z_w)`` exactly, then one rescale (Jacob et al.
2018, eq. 7). Affine codes in ``[0, 2^b - 1]`` are stored shifted by
``-2^(b-1)`` into int8 (the zero point shifts with them), so every operand is
int8. Zero padding of convolutions pads with the input's zero point. Layers
whose inputs are not quantized dequantize their weights and run in float.

Since `apply.fake_quant_layer` multiplies the same codes as exact integers in
float32, the logits of the integer model and of the fake-quant evaluation are
bit-identical whenever the float32 partial sums stay below 2^24 (always for
int8 codes with fan-in up to 1040; tested on MLPs and LeNet-5).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxcompress import rules as rules_lib
from jaxcompress.quantization import apply as apply_lib
from jaxcompress.quantization import quantizers as qz
from jaxcompress.quantization.apply import LayerQuant
from jaxcompress.quantization.quantizers import QuantSpec


def container_bits(bits: int) -> int:
  """Bits each code occupies in storage: 2 -> 2, 3..4 -> 4, 5..8 -> 8."""
  return 2 if bits == 2 else 4 if bits <= 4 else 8


def offset(spec: QuantSpec) -> int:
  """Shift taking the spec's codes into int8: 0 symmetric, 2^(b-1) affine."""
  return 0 if spec.symmetric else 2 ** (spec.bits - 1)


def pack(codes: np.ndarray, bits: int) -> np.ndarray:
  """Packs int8 codes in ``[-2^(b-1), 2^(b-1))`` into bytes.

  For bits <= 4, ``8 // container_bits`` codes per byte (int4: two per
  byte, low nibble first), each stored as ``code + 2^(b-1)``; for 5 to 8
  bits the int8 codes themselves. Returns a flat uint8 (or int8) array.
  """
  codes = np.asarray(codes).reshape(-1)
  lo, hi = -2 ** (bits - 1), 2 ** (bits - 1) - 1
  if codes.size and (codes.min() < lo or codes.max() > hi):
    raise ValueError(f'codes outside the {bits}-bit range [{lo}, {hi}]')
  cb = container_bits(bits)
  if cb == 8:
    return codes.astype(np.int8)
  per = 8 // cb
  u = (codes.astype(np.int16) + 2 ** (bits - 1)).astype(np.uint8)
  u = np.concatenate([u, np.zeros(-u.size % per, np.uint8)]).reshape(-1, per)
  shifts = (np.arange(per) * cb).astype(np.uint8)
  return np.bitwise_or.reduce(u << shifts, axis=1).astype(np.uint8)


def unpack(data: jax.Array, bits: int, shape: tuple[int, ...]) -> jax.Array:
  """Inverse of `pack` (jit-friendly): int8 codes of the given shape."""
  cb = container_bits(bits)
  if cb == 8:
    return jnp.reshape(data, shape).astype(jnp.int8)
  per = 8 // cb
  shifts = jnp.arange(per, dtype=jnp.uint8) * cb
  u = (data[:, None] >> shifts) & jnp.uint8(2 ** cb - 1)
  size = int(np.prod(shape))
  codes = u.reshape(-1)[:size].astype(jnp.int8) - jnp.int8(2 ** (bits - 1))
  return codes.reshape(shape)


@flax.struct.dataclass
class QTensor:
  """A quantized tensor as stored: codes (packed when bits <= 4) + grid.

  Attributes:
    data: int8 codes shifted by `offset(spec)`, packed by `pack`.
    scale: float32 scale, keepdims shape (per tensor or per channel).
    zero_point: float32 integer-valued zero point (unshifted), like `scale`.
    shape: the tensor's shape.
    spec: its QuantSpec.
  """
  data: Any
  scale: Any
  zero_point: Any
  shape: tuple[int, ...] = flax.struct.field(pytree_node=False)
  spec: QuantSpec = flax.struct.field(pytree_node=False)

  def codes(self) -> jax.Array:
    """Shifted int8 codes ``q - offset``."""
    return unpack(self.data, self.spec.bits, self.shape)

  def dequantize(self) -> jax.Array:
    """``s (q - z)`` with the same float ops as the fake-quant transform."""
    q = self.codes().astype(jnp.float32) + offset(self.spec)
    return qz.dequantize(q, self.scale, self.zero_point)


def quantize_tensor(w: np.ndarray, spec: QuantSpec, method: str = 'minmax',
                    qparams: tuple[Any, Any] | None = None) -> QTensor:
  """A QTensor with the grid `apply.quantize_params` uses for `w` (or the
  explicit ``(scale, zero_point)`` of `qparams`)."""
  if qparams is not None:
    scale, zp = (jnp.asarray(qparams[0], jnp.float32),
                 jnp.asarray(qparams[1], jnp.float32))
  else:
    scale, zp = _qparams(jnp.asarray(w), spec, method)
  q = _codes(jnp.asarray(w), scale, zp, spec)
  shifted = np.asarray(q).astype(np.int16) - offset(spec)
  return QTensor(pack(shifted, spec.bits), np.asarray(scale), np.asarray(zp),
                 tuple(np.shape(w)), spec)


def _qparams(w, spec, method):
  return jax.jit(apply_lib.weight_qparams, static_argnums=(1, 2))(
      w, spec, method)


def _codes(w, scale, zp, spec):
  return jax.jit(qz.quantize, static_argnums=(3,))(w, scale, zp, spec)


# ----------------------------------------------------------- the model ---


@dataclasses.dataclass
class IntegerModel:
  """A flax model whose quantized parameters are stored as integers.

  Attributes:
    model: the (unchanged) flax module.
    floats: '/'-joined variable path -> float32 array, for every variable
      that is not quantized (biases, batch-norm statistics, ...).
    qweights: variable path -> QTensor, for every quantized parameter.
    layers: layer path -> LayerQuant (calibrated) for layers that run in
      integers.
  """
  model: nn.Module
  floats: dict[str, np.ndarray]
  qweights: dict[str, QTensor]
  layers: dict[str, LayerQuant]

  def arrays(self) -> dict:
    """The pytree of arrays `apply_arrays` takes."""
    return {'floats': self.floats, 'qweights': self.qweights}

  def apply_arrays(self, arrays: dict, x: jax.Array) -> jax.Array:
    """Logits of `x` (jit this; `arrays` from `self.arrays()`)."""
    int_kernels = {f'params/{n}/kernel' for n in self.layers}
    flat = dict(arrays['floats'])
    for path, qt in arrays['qweights'].items():
      if path not in int_kernels:
        flat[path] = qt.dequantize()
    variables = traverse_util.unflatten_dict(flat, sep='/')
    kernels = {n: arrays['qweights'][f'params/{n}/kernel']
               for n in self.layers}

    def layer_fn(module, x, name):
      return int_layer(module, x, self.layers[name], kernels[name])

    fn = apply_lib.intercept_layers(self.model.apply, layer_fn,
                                    {n: n for n in self.layers})
    return fn(variables, x, train=False)

  def jit_apply(self):
    """`x -> logits`, compiled once, closing over this model's arrays."""
    arrays = self.arrays()
    f = jax.jit(self.apply_arrays)
    return lambda x: f(arrays, x)

  def __call__(self, x):
    return jax.jit(self.apply_arrays)(self.arrays(), x)

  def float_variables(self) -> dict:
    """Dequantized variables (for the float model / size comparisons)."""
    flat = dict(self.floats)
    flat.update({p: np.asarray(q.dequantize()) for p, q in
                 self.qweights.items()})
    return traverse_util.unflatten_dict(flat, sep='/')


def int_layer(module: nn.Module, x: jax.Array, lq: LayerQuant,
              qt: QTensor) -> jax.Array:
  """One Dense/Conv layer in integers (see the module docstring)."""
  params = module.variables.get('params', {})
  a_off = offset(lq.act)
  s_x = jnp.asarray(lq.act_scale, jnp.float32)
  z_x = jnp.asarray(lq.act_zero_point, jnp.float32)
  q = qz.quantize(x, s_x, z_x, lq.act)
  q8 = (q - a_off).astype(jnp.int8)
  z8 = (z_x - a_off).astype(jnp.int32)
  w8 = qt.codes()
  zw8 = _out_channel(qt.zero_point - offset(qt.spec)).astype(jnp.int32)

  pads = None
  if isinstance(module, nn.Conv):
    nsp = w8.ndim - 2
    pads = apply_lib._conv_pads(module, x.shape, w8.shape)
    if any(p != (0, 0) for p in pads):
      # Real zero is code z_x: pad with it, not with 0.
      q8 = jnp.pad(q8, [(0, 0)] + [tuple(p) for p in pads] + [(0, 0)],
                   constant_values=z8.astype(jnp.int8))
    pads = [(0, 0)] * nsp
  i32 = jnp.int32
  acc = apply_lib.contract(module, q8, w8, pads, preferred_element_type=i32)
  if not qt.spec.symmetric:
    ones = jnp.ones(w8.shape[:-1] + (1,), jnp.int8)
    sum_x = apply_lib.contract(module, q8, ones, pads,
                               preferred_element_type=i32)
    acc = acc - zw8 * sum_x
  if not lq.act.symmetric:
    sum_w = jnp.sum(w8.astype(i32), axis=tuple(range(w8.ndim - 1)))
    fan_in = int(np.prod(w8.shape[:-1]))
    acc = acc - z8 * sum_w + fan_in * z8 * zw8
  y = acc.astype(jnp.float32) * (s_x * apply_lib._out_channel_scale(qt.scale))
  if 'bias' in params:
    y = y + params['bias']
  return y


def _out_channel(a):
  return jnp.reshape(a, (-1,)) if jnp.size(a) > 1 else jnp.reshape(a, ())


def convert(model: nn.Module, variables: Any, specs: Any,
            layers: dict[str, LayerQuant] | None = None,
            method: str = 'minmax',
            qparams: dict[str, tuple[Any, Any]] | None = None
            ) -> IntegerModel:
  """Builds the integer model of float `variables` quantized as configured.

  Args:
    model: the flax module.
    variables: float variables ({'params': ..., maybe 'batch_stats': ...}),
      batch norm already folded if it should be (`fold_bn`).
    specs: weight specs for `variables['params']` (`apply.weight_specs`).
    layers: calibrated LayerQuant per layer path; layers with an `act` spec
      and a calibrated range run in integers. Their kernels must be quantized.
    method: weight range method (as in `apply.quantize_params`).
    qparams: explicit ``(scale, zero_point)`` per parameter path (learned
      step sizes), as in `apply.quantize_params`.

  Raises:
    ValueError: a layer with uncalibrated inputs, or an integer layer whose
      kernel has no weight spec.
  """
  layers = {n: lq for n, lq in (layers or {}).items() if lq.act is not None}
  flat_specs = spec_dict(specs)
  for n, lq in layers.items():
    if lq.act_scale is None:
      raise ValueError(f'Layer {n} has no calibrated input range; run '
                       'apply.calibrate_layers first')
    if flat_specs.get(f'{n}/kernel') is None:
      raise ValueError(f'Layer {n} runs in integers but its kernel has no '
                       'weight spec')
    apply_lib.check_layer(n, lq, len(np.shape(
        _get(variables['params'], f'{n}/kernel'))))
  floats, qweights = {}, {}
  for path, leaf in rules_lib.named_leaves(variables):
    collection, rest = path.split('/', 1)
    spec = flat_specs.get(rest) if collection == 'params' else None
    if spec is not None:
      qweights[path] = quantize_tensor(np.asarray(leaf), spec, method,
                                       (qparams or {}).get(rest))
    else:
      floats[path] = np.asarray(leaf, np.float32)
  return IntegerModel(model, floats, qweights, layers)


def _get(tree, path):
  for k in path.split('/'):
    tree = tree[k]
  return tree


def spec_dict(specs: Any) -> dict[str, QuantSpec | None]:
  """{'/'-joined path: spec} of a spec pytree (None leaves kept)."""
  flat, _ = jax.tree_util.tree_flatten_with_path(
      specs, is_leaf=lambda x: x is None)
  return {rules_lib.path_str(p): s for p, s in flat}
