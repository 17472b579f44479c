"""Quantization speed on this CPU: fake-quant train step and int8 inference.

  python benchmarks/quant_speed.py [--repeats=30] [--out=docs/quant_speed.json]

1. Train step: one jitted SGD-momentum step (batch 128) of the real
   jaxcompress train step with the QAT plugin's params_fn / wrap_apply, over
   the same step without quantization: W8 per-channel weights only, and W4
   per-channel weights with 8-bit affine inputs (interception).
2. Inference: the integer model (int8 x int8 -> int32 dot_general / conv on
   int8 weights, int4 packed; then rescale) against the float32 model, both
   jitted, at batch 1 and 1024.

Methods take turns call by call (interleaved) and each reports the median of
`repeats` timed calls after warm-up, so load from other processes on a
shared machine hits them alike. Weights are untrained (speed does not depend
on their values). Prints a JSON dict and a markdown table.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'experiments'))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

from jaxcompress import models, optim, plugins, timing, train  # noqa: E402
from jaxcompress.plugins import quantization as qplugin  # noqa: E402
from jaxcompress.quantization import apply as qapply  # noqa: E402
from jaxcompress.quantization import integer  # noqa: E402

flags.DEFINE_integer('repeats', 30, 'Timed calls per method.')
flags.DEFINE_string('out', '', 'Optional JSON output path.')
FLAGS = flags.FLAGS

SETTINGS = {
    'w8_channel': dict(weight_bits=8, per_channel=True, act_bits=0),
    'w4a8_channel': dict(weight_bits=4, per_channel=True, act_bits=8),
}


def interleaved(fns: dict, repeats: int) -> dict:
  return timing.ms(timing.interleaved(fns, repeats))


def _resolve(section, params):
  return qplugin.resolve(qplugin.QuantizationSection(**section), params)


def quant_plugin(section, params):
  settings = _resolve(section, params)
  wrap = ((lambda a: qapply.fake_quant_apply(a, settings.layers))
          if settings.layers else None)
  inner = qplugin.Q.params_transform(settings)
  return plugins.Plugin('quantization', params_fn=lambda p, aux: inner(p),
                        wrap_apply=wrap)


def train_steps(name, repeats):
  config = plugins.RunSettings(model=name)
  model = models.get_model(name)
  x = np.random.default_rng(0).normal(size=(128, 28, 28, 1)).astype(
      np.float32)
  batch = {'image': x, 'label': np.zeros(128, np.int32)}
  variables = model.init(jax.random.key(0), x[:1])
  tx = optim.make_optimizer(config, 1000)
  sharding = jax.sharding.NamedSharding(train.data_mesh(),
                                        jax.sharding.PartitionSpec('data'))
  fns = {}
  for tag, extra in [('float', [])] + [
      (k, [quant_plugin(s, variables['params'])]) for k, s in
      SETTINGS.items()]:
    state = train.create_train_state(variables, tx)
    step = jax.jit(train.make_train_step(model, tx, extra, sharding,
                                         seed=0))
    fns[tag] = (lambda step=step, state=state:
                jax.block_until_ready(step(state, batch)))
  return interleaved(fns, repeats)


def inference(name, repeats):
  model = models.get_model(name)
  rng = np.random.default_rng(0)
  x_cal = rng.normal(size=(256, 28, 28, 1)).astype(np.float32)
  variables = model.init(jax.random.key(0), x_cal[:1])
  out = {}
  for bits in (8, 4):
    settings = _resolve(dict(weight_bits=bits, per_channel=True, act_bits=8),
                        variables['params'])
    layers = qapply.calibrate_layers(model.apply, variables, x_cal,
                                     settings.layers)
    im = integer.convert(model, variables, settings.specs, layers)
    f_int = im.jit_apply()
    f_float = jax.jit(lambda v, x: model.apply(v, x))
    for bs in (1, 1024):
      xb = jax.device_put(rng.normal(size=(bs, 28, 28, 1)).astype(np.float32))
      t = interleaved({
          'float32': lambda: f_float(variables, xb).block_until_ready(),
          f'int{bits}': lambda: f_int(xb).block_until_ready()}, repeats)
      out.setdefault(f'batch_{bs}', {}).update(t)
  return out


def main(argv):
  del argv
  results = {'devices': f'{jax.device_count()} x {jax.devices()[0].device_kind}',
             'cpu_count': os.cpu_count(),
             'load_average_at_start': os.getloadavg()}
  for name in ('lenet_300_100', 'lenet5'):
    results[name] = {'train_step_ms': train_steps(name, FLAGS.repeats),
                     'inference_ms': inference(name, FLAGS.repeats)}
  results['load_average_at_end'] = os.getloadavg()
  print(json.dumps(results, indent=1))
  print('\n| model | float step ms | W8 fake-quant step ms (x) '
        '| W4A8 fake-quant step ms (x) |\n|---|---|---|---|')
  for name in ('lenet_300_100', 'lenet5'):
    t = results[name]['train_step_ms']
    print(f"| {name} | {t['float']:.2f} | {t['w8_channel']:.2f} "
          f"({t['w8_channel'] / t['float']:.2f}x) | {t['w4a8_channel']:.2f} "
          f"({t['w4a8_channel'] / t['float']:.2f}x) |")
  print('\n| model | batch | float32 ms | int8 ms (x float) '
        '| int4-packed ms (x float) |\n|---|---|---|---|---|')
  for name in ('lenet_300_100', 'lenet5'):
    for bs in ('batch_1', 'batch_1024'):
      t = results[name]['inference_ms'][bs]
      print(f"| {name} | {bs[6:]} | {t['float32']:.3f} | {t['int8']:.3f} "
            f"({t['int8'] / t['float32']:.2f}x) | {t['int4']:.3f} "
            f"({t['int4'] / t['float32']:.2f}x) |")
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      json.dump(results, f, indent=1)


if __name__ == '__main__':
  app.run(main)
