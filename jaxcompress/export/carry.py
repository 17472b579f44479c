"""Carrying a jaxcompress integer model's own int8 grid into a .tflite file.

The LiteRT converter's full-integer mode always calibrates activation
ranges itself (`convert.to_tflite(quantize='int8')`). A QAT or PTQ run,
though, was evaluated as an `IntegerModel` with its own weight codes, scales
and calibrated input ranges. `carry_integer_model` takes the converted file
of that model (converted from its dequantized weights) and rewrites, layer by
layer, what the run fixed:

  kernel   int8 codes q_w and per-channel scales s_w of the run
           (zero point 0: LiteRT int8 kernels need symmetric weights)
  input    scale s_x and zero point z_x - 128 (the run's affine codes
           [0, 255] shifted into int8, as `integer.py` stores them), on the
           layer's input tensor and on every tensor tied to it by ops that
           keep their input's grid (reshape, max pool, gather, ...), up to
           the op that produces it; that op (the previous layer, with its
           fused ReLU, or the input's QUANTIZE) then requantizes its
           accumulator straight onto the next layer's grid
  bias     int32 round(b / (s_x s_w)) at scale s_x s_w (LiteRT's bias grid;
           the integer model adds b in float after rescaling)

so the file computes q_x, sum (q_x - z_x) q_w, and the rescale of Jacob et
al. 2018 (eq. 7) on the run's grid. What remains the converter's: the grid
of the logits (the last layer's int8 output, dequantized to float32), and
of any int8 activation that no integer layer reads (listed in the report).
Differences from the integer model's logits come from that output grid,
the int32 bias rounding and LiteRT's fixed-point rescale.

Layers are found by name: the converter keeps the Flax path of each kernel
in its tensor name ('.../LeNet5/conv1/conv_general_dilated').
"""

from __future__ import annotations

import collections

import numpy as np

from jaxcompress.export import flatbuffer as fb
from jaxcompress.export import space_to_depth
from jaxcompress.quantization.integer import IntegerModel, offset

KERNEL_OPS = ('FULLY_CONNECTED', 'CONV_2D', 'DEPTHWISE_CONV_2D')
# Ops whose int8 output must share their input's grid.
SAME_GRID_OPS = ('RESHAPE', 'MAX_POOL_2D', 'REDUCE_MAX', 'GATHER',
                 'GATHER_ND', 'SQUEEZE', 'EXPAND_DIMS', 'TRANSPOSE', 'SLICE',
                 'STRIDED_SLICE', 'PAD')


def _kernel_layer(name: str) -> str | None:
  """'jit(<lambda>)/LeNet5/conv1/conv_general_dilated' -> 'conv1'."""
  for part in name.split(';'):
    segs = [s for s in part.split('/') if '(' not in s]
    if len(segs) >= 3 and segs[-1] in ('dot_general', 'conv_general_dilated'):
      return '/'.join(segs[1:-1])
  return None


def _tflite_layout(op: str, codes: np.ndarray, shape: tuple[int, ...],
                   inputs=None) -> tuple[np.ndarray, int, int]:
  """Flax kernel codes in LiteRT's layout (the file's tensor has `shape`),
  the per-channel axis, and how many times each Flax channel repeats.
  `inputs`: the model's gathered input features (`models.MLP.inputs`)."""
  if (op == 'CONV_2D' and codes.ndim == 4 and codes.shape[2] == 1
      and shape != (codes.shape[3], *codes.shape[:3])):
    # Exported on the space-to-depth input: each channel's codes, laid out
    # four times (`space_to_depth.kernel`).
    return space_to_depth.kernel(codes).transpose(3, 0, 1, 2), 0, 4
  if op == 'FULLY_CONNECTED':
    if inputs is not None and shape[1] != codes.shape[0]:
      # The MLP's pixel gather exported as zero rows (`fold.ungathered`).
      full = np.zeros((shape[1], codes.shape[1]), codes.dtype)
      full[np.asarray(inputs)] = codes
      codes = full
    return codes.T, 0, 1                            # (in, out) -> (out, in)
  if op == 'CONV_2D':
    return codes.transpose(3, 0, 1, 2), 0, 1        # HWIO -> OHWI
  return codes.transpose(2, 0, 1, 3), 3, 1          # HW1O -> 1HWO


def _kernel_ops(model, sg) -> dict[str, object]:
  found = {}
  for op in sg.operators:
    if fb.op_name(model, op) not in KERNEL_OPS:
      continue
    layer = _kernel_layer(fb.tensor_name(sg.tensors[op.inputs[1]]))
    if layer is not None:
      found[layer] = op
  return found


def _tied_tensors(model, sg, start: int) -> list[int]:
  """`start` and every tensor sharing its grid through SAME_GRID_OPS."""
  producer, consumers = {}, collections.defaultdict(list)
  for op in sg.operators:
    for t in op.outputs:
      producer[t] = op
    for t in op.inputs:
      consumers[t].append(op)
  seen, todo = {start}, [start]
  while todo:
    t = todo.pop()
    nxt = []
    p = producer.get(t)
    if p is not None and fb.op_name(model, p) in SAME_GRID_OPS:
      nxt.append(p.inputs[0])
    for c in consumers[t]:
      if fb.op_name(model, c) in SAME_GRID_OPS and c.inputs[0] == t:
        nxt.extend(c.outputs)
    for n in nxt:
      if n >= 0 and n not in seen:
        seen.add(n)
        todo.append(n)
  return sorted(seen)


def check_integer_model(im: IntegerModel) -> None:
  """Raises ValueError, naming the layer, if LiteRT int8 cannot hold its grid.

  LiteRT int8 kernels take symmetric weights (zero point 0, any width up to
  8 bits fits) and 8-bit activations.
  """
  for path, qt in im.qweights.items():
    layer = path.split('/', 1)[1].rsplit('/', 1)[0]
    if path.endswith('/kernel') and not qt.spec.symmetric:
      raise ValueError(f'Layer {layer!r}: LiteRT int8 kernels need symmetric '
                       'weights (zero point 0); the run quantized them affine')
  for layer, lq in im.layers.items():
    if lq.act.bits != 8:
      raise ValueError(f'Layer {layer!r}: its inputs are {lq.act.bits}-bit; '
                       'LiteRT int8 activations carry 8-bit codes only')


def carry_integer_model(tflite: bytes, im: IntegerModel
                        ) -> tuple[bytes, dict]:
  """Rewrites a full-int8 .tflite onto the integer model's own grid.

  Args:
    tflite: `convert.to_tflite(im.model, im.float_variables(),
      quantize='int8', ...)`.
    im: the integer model (e.g. `quantization.storage.load` of a run's .jxq).

  Returns:
    (the rewritten .tflite, a report: 'layers' carried; 'kept', int8
    activations left on the converter's grid; per layer, 'input_grid' as
    {'run': (scale, zero point), 'converter': (...)} and
    'weight_codes_changed', the share of kernel codes that differ from the
    converter's own).

  Raises:
    ValueError: naming the layer, for one that LiteRT int8 cannot run on the
      run's grid (asymmetric weights, inputs of other than 8 bits) or that is
      missing from the file; or two layers that need different grids on one
      tensor.
  """
  check_integer_model(im)
  model = fb.read(tflite)
  sg = model.subgraphs[0]
  ops = _kernel_ops(model, sg)
  grids: dict[int, tuple[float, int, str]] = {}
  report = {'layers': [], 'kept': [], 'input_grid': {},
            'weight_codes_changed': {}}
  for layer in sorted(ops):
    path = f'params/{layer}/kernel'
    if path not in im.qweights:
      continue
    qt = im.qweights[path]
    op = ops[layer]
    name = fb.op_name(model, op)
    w_tensor = sg.tensors[op.inputs[1]]
    codes, axis, reps = _tflite_layout(
        name, np.asarray(qt.codes(), np.int8),
        tuple(int(d) for d in w_tensor.shape),
        getattr(im.model, 'inputs', None) if layer == 'fc1' else None)
    old = fb.data(model, w_tensor, np.int8)
    try:
      fb.set_data(model, w_tensor, codes)
    except ValueError as e:
      raise ValueError(f'Layer {layer!r}: {e}') from None
    report['weight_codes_changed'][layer] = float(np.mean(old != codes))
    # One scale per output channel of the file's kernel: a per-channel grid
    # repeated `reps` times, a per-tensor one for every channel (XNNPACK
    # refuses a per-tensor scale on the converter's per-channel tensor).
    s_w = np.asarray(qt.scale, np.float32).reshape(-1)
    n_out = codes.shape[axis]
    s_w = np.tile(s_w, reps) if s_w.size > 1 else np.full(n_out, s_w[0])
    fb.set_quantization(w_tensor, s_w, np.zeros_like(s_w, np.int64), axis)

    x_tensor = op.inputs[0]
    lq = im.layers.get(layer)
    if lq is not None:
      s_x = float(lq.act_scale)
      z_x = int(round(float(lq.act_zero_point))) - offset(lq.act)
      conv_grid = fb.quantization(sg.tensors[x_tensor])
      report['input_grid'][layer] = {
          'run': (s_x, z_x),
          'converter': None if conv_grid is None else (
              float(conv_grid[0][0]), int(conv_grid[1][0]))}
      for t in _tied_tensors(model, sg, x_tensor):
        if fb.int_type(sg.tensors[t]) != 'int8':
          continue
        prev = grids.get(t)
        if prev is not None and prev[:2] != (s_x, z_x):
          raise ValueError(
              f'Layers {prev[2]!r} and {layer!r} need different input grids '
              f'on tensor {fb.tensor_name(sg.tensors[t])!r}')
        grids[t] = (s_x, z_x, layer)
        fb.set_quantization(sg.tensors[t], [s_x], [z_x])
      report['layers'].append(layer)
    else:
      s_x = float(fb.quantization(sg.tensors[x_tensor])[0][0])

    bias = im.floats.get(f'params/{layer}/bias')
    has_bias = len(op.inputs) > 2 and op.inputs[2] >= 0
    if bias is not None and not has_bias:
      raise ValueError(f'Layer {layer!r} has a bias the LiteRT op lacks')
    if has_bias:
      b_tensor = sg.tensors[op.inputs[2]]
      n_out = int(b_tensor.shape[0])
      b = np.zeros(n_out, np.float32) if bias is None else np.tile(
          np.asarray(bias, np.float32).reshape(-1), reps)
      b_scale = np.broadcast_to(s_x * s_w, (n_out,)).astype(np.float32)
      q_b = np.clip(np.round(b / b_scale), -2**31, 2**31 - 1).astype(np.int32)
      fb.set_data(model, b_tensor, q_b)
      fb.set_quantization(b_tensor, b_scale, np.zeros(n_out, np.int64))

  missing = sorted(set(im.layers) - set(report['layers']))
  if missing:
    raise ValueError(f'Layers {missing} run in integers in the run but have '
                     'no int8 kernel in the LiteRT file')
  for i, t in enumerate(sg.tensors):
    if (fb.int_type(t) == 'int8' and i not in grids
        and fb.quantization(t) is not None and t.buffer is not None
        and not _is_constant(model, t)):
      report['kept'].append(fb.tensor_name(t))
  return fb.write(model), report


def _is_constant(model, tensor) -> bool:
  data = model.buffers[tensor.buffer].data
  return data is not None and len(data) > 0
