"""The train loop every experiment shares: config in, trained state out.

`train_and_evaluate(config, workdir)` parses the whole config (every field of
every section, before any data is loaded), opens the workdir's run store,
builds the model, the optimizer and the compression plugins the config names,
then trains with a jitted step that compiles once per run. The training set
lives on the device and `steps_per_call` steps run as one compiled `lax.scan`
over shuffled on-device indices (one epoch per call by default); with
`in_memory=False` batches stream through tf.data into the same step.

Data parallelism: the batch is sharded over the `data` axis of a Mesh that
spans all devices, parameters and optimizer state are replicated, so the same
code runs on one CPU, a GPU, a TPU slice or fake CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=4).

A run never lies: a non-finite loss stops it at the end of the compiled call
in which it appeared (unless `on_nonfinite_loss='continue'`), with an error
naming the step and the loss, and the last good checkpoint kept; so does
training that fell back to chance accuracy after it had learned, with a
finite loss (`collapsed`; unless `on_collapse='continue'`); a finished
workdir is reported and kept, not retrained.
"""

from __future__ import annotations

import math
import time
from typing import Any

import flax
import jax
import numpy as np
import optax
from absl import logging
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxcompress import data as data_lib
from jaxcompress import metrics, models, optim, saved_runs
from jaxcompress.plugins import interface, registry
from jaxcompress.plugins.settings import RunSettings, resolve_steps
from jaxcompress.train import feed, runner
from jaxcompress.train import sharding as sharding_lib
from jaxcompress.train import step as step_lib
from jaxcompress.train import store as store_lib

TrainState = step_lib.TrainState


class DivergedError(store_lib.RunError):
  """The loss became NaN or infinite, or training collapsed to chance."""


def collapsed(accuracies, num_classes: int, last_call: bool) -> bool:
  """Whether training fell back to chance after it had learned.

  `accuracies` are the mean training accuracies of the compiled calls so
  far (a resumed run's start with the best it had reached). A call is at chance when its
  accuracy is at most chance + (1 - chance) / 20 (14.5% for ten classes);
  the run had learned when an earlier call reached chance + (1 - chance) / 4
  (32.5%). Training has collapsed when, after it had learned, the last two
  calls are at chance, or the run's last call is: one call's dip (a pruning
  step, a restart of the learning rate) may recover, the end of a run cannot.
  A run that never learned is left alone: on hard data a slow start looks
  the same.
  """
  chance = 1.0 / num_classes
  low = chance + (1.0 - chance) / 20
  learned = chance + (1.0 - chance) / 4
  n = 1 if last_call else 2   # the calls at chance that end a run
  if len(accuracies) <= n or any(a > low for a in accuracies[-n:]):
    return False
  return any(a >= learned for a in accuracies[:-n])


def check_settings(s: RunSettings) -> None:
  """Names and sizes that need the package's registries or the devices."""
  data_lib.check_name(s.dataset)
  if s.model not in models.MODELS:
    raise ValueError(f'Unknown model {s.model!r}; known models: '
                     f'{sorted(models.MODELS)}')
  try:
    models.get_model(s.model, **s.model_kwargs)
  except TypeError as e:
    raise ValueError(f'model_kwargs {s.model_kwargs} do not fit {s.model}: '
                     f'{e}') from None
  n = jax.device_count()
  if s.batch_size % n:
    raise ValueError(f'batch_size {s.batch_size} is not divisible by the '
                     f'{n} devices of the data mesh')
  if s.eval_batch_size % n:
    raise ValueError(f'eval_batch_size {s.eval_batch_size} is not '
                     f'divisible by the {n} devices of the data mesh')


def _inputs_digest(init, inputs) -> str:
  parts = []
  if init is not None:
    parts.append(store_lib.tree_digest(init))
  for name in sorted(inputs or {}):
    for key, value in sorted(inputs[name].items()):
      if isinstance(value, tuple) and value and isinstance(
          value[0], flax.linen.Module):   # (model, variables): a teacher
        parts.append(f'{name}/{key}:{value[0]!r}:'
                     f'{store_lib.tree_digest(value[1])}')
      else:
        parts.append(f'{name}/{key}:{store_lib.tree_digest(value)}')
  return '|'.join(parts)


def train_and_evaluate(config: Any, workdir: str | None, *,
                       init: dict | None = None,
                       inputs: dict | None = None) -> tuple[TrainState, dict]:
  """Trains and evaluates the model the config describes.

  Args:
    config: an experiment ConfigDict (experiments/configs/default.py lists
      every field) or an already parsed `registry.ParsedConfig`.
    workdir: where checkpoints, TensorBoard scalars, the model file and
      results.json go; None trains without writing anything.
    init: variables to start from instead of a fresh initialization (a
      pipeline's previous stage, passed in memory).
    inputs: arrays for the plugins, by section (`interface.Context.inputs`).

  Returns:
    The final TrainState and the results dict (also in workdir/results.json).
    A workdir whose run already finished with this config is not trained
    again: its final checkpoint and results are returned as they are.

  Raises:
    ValueError: for any bad setting (unknown field, type, range, name), a
      batch size the devices do not divide, step counts that do not line
      up, or a workdir holding a run of another config; all before
      compiling.
    store.RunError: another process holds the workdir, no usable checkpoint.
    DivergedError: the loss became NaN or infinite, or training collapsed
      to chance accuracy (`collapsed`).
  """
  parsed = registry.parse_config(config)
  s = parsed.settings
  check_settings(s)
  t_start = time.time()
  resolved = registry.resolved(parsed)
  init_digest = _inputs_digest(init, inputs)
  if s.init_from:
    path = s.init_from
    path = path if path.endswith('.msgpack') else f'{path}/model.msgpack'
    try:
      init_digest += '|init_from:' + store_lib.file_digest(path)
    except OSError:
      raise ValueError(f'init_from: no such file {path!r}') from None
  store = (store_lib.RunStore.open(workdir, resolved, init_digest)
           if workdir else None)
  try:
    return _run(parsed, store, init, inputs or {}, t_start)
  finally:
    if store is not None:
      store.close()


def _run(parsed, store, init, inputs, t_start):
  s = parsed.settings
  if store is not None and store.finished:
    logging.info('%s: this run has finished; its results are kept',
                 store.workdir)
    print(f'{store.workdir}: finished earlier with this config; results '
          'kept (delete the workdir to run it again)', flush=True)
  s, ds = feed.inputs_on_path(s)
  if ds.share is not None:
    logging.info('process %d decoded its share of the training split: %d '
                 'of the %d examples', jax.process_index(), ds.share.num_own,
                 ds.num_train)
  num_steps, spe, per_call = resolve_steps(s, ds.num_train)
  registry.check_against_run(parsed, num_steps, spe)
  mesh = step_lib.data_mesh()
  replicated = NamedSharding(mesh, P())
  data_sharding = NamedSharding(mesh, P('data'))

  model = models.get_model(s.model, **s.model_kwargs)
  variables = jax.jit(lambda k: model.init(k, ds.train_images[:1]))(
      jax.random.key(s.seed))
  variables = jax.tree.map(np.asarray, flax.core.unfreeze(variables))
  if init is not None:
    saved_runs.check_same_arrays(variables, init, 'the previous stage')
    variables = jax.tree.map(lambda v, x: np.asarray(x, v.dtype), variables,
                             flax.core.unfreeze(init))
  elif s.init_from:
    variables = saved_runs.load_init(s.init_from, variables)

  evaluate, test_logits = feed.evaluation(s, ds, model, data_sharding)

  def loss(params, images, labels):
    v = dict(variables, params=params)
    logits, _ = model.apply(v, images, train=True, mutable=['batch_stats'])
    return step_lib.cross_entropy(logits, {'label': labels})

  ctx = interface.Context(
      settings=s, model=model, variables=variables,
      train_images=ds.train_images, train_labels=ds.train_labels,
      test_images=ds.test_images, test_labels=ds.test_labels, loss=loss,
      evaluate=evaluate, test_logits=test_logits,
      workdir=store.workdir if store is not None and store.writes else None,
      num_train_steps=num_steps, steps_per_epoch=spe, inputs=inputs)
  plugins = registry.build(parsed, ctx)
  optimizer = optim.make_optimizer(s, num_steps)
  tx = optax.chain(optimizer, *[p.tx for p in plugins if p.tx is not None])
  state = step_lib.create_train_state(variables, tx, plugins, optimizer)
  shardings = sharding_lib.state_shardings(state, mesh, s.shard_params)
  state = jax.device_put(state, shardings)
  apply_fn = step_lib.make_apply(model, plugins)

  if store is not None and store.finished:
    state = store.restore(state, final=True)
    return state, store.results()
  if store is not None:
    state = store.restore(state)

  writer = _writer(store)
  run_calls = runner.make_runner(
      s, state, ds, plugins, model, tx, optimizer, data_sharding, replicated,
      shardings, per_call, spe, num_steps)
  eval_every = s.eval_every_steps
  ckpt_every = (s.checkpoint_every_steps if s.checkpoint_every_steps > 0
                else per_call)
  step = int(state.step)
  history = []
  num_classes = jax.eval_shape(
      lambda v: model.apply(v, ds.train_images[:1]), variables).shape[-1]
  # Mean training accuracy per call, after the best one a resumed run had
  # reached (`collapsed`).
  best = store.best_accuracy(step) if store is not None and step else None
  accuracies = [] if best is None else [best]
  train_time = 0.0
  first_step = step
  path = 'on-device scanned epochs' if s.in_memory else 'tf.data stream'
  logging.info('training %s on %s: steps %d..%d, %d steps per compiled call '
               '(%s)', s.model, s.dataset, step, num_steps, per_call, path)
  while step < num_steps:
    t0 = time.time()
    state, m = run_calls(state)
    m = jax.tree.map(float, m)
    step = int(state.step)
    if not math.isfinite(m['loss']) and s.on_nonfinite_loss == 'stop':
      where = f'; the last good checkpoint in {store.checkpoint_dir} is kept' \
          if store is not None else ''
      raise DivergedError(
          f'The loss became {m["loss"]} in the steps up to {step} '
          f'(learning_rate {s.learning_rate}): the run diverged{where}. '
          "Set on_nonfinite_loss='continue' to go on anyway.")
    accuracies.append(m['accuracy'])
    # A call at chance after the run had learned is not checkpointed: the
    # next call recovers, or the run stops (now, or at the next call).
    dip = s.on_collapse == 'stop' and collapsed(accuracies, num_classes, True)
    if dip and (step >= num_steps
                or collapsed(accuracies, num_classes, False)):
      where = (f'; the last checkpoint before the fall in '
               f'{store.checkpoint_dir} is kept' if store is not None else '')
      raise DivergedError(
          f'The training accuracy fell from {max(accuracies):.1%} to '
          f'{accuracies[-1]:.1%} (chance: {1 / num_classes:.1%}) in the steps '
          f'up to {step}, with loss {m["loss"]:.4g} (learning_rate '
          f'{s.learning_rate}): training collapsed{where}. '
          "Set on_collapse='continue' to go on anyway.")
    dt = time.time() - t0
    train_time += dt
    m['steps_per_sec'] = per_call / dt
    if eval_every > 0 and step % eval_every == 0 and step < num_steps:
      m.update({f'test_{k}': v for k, v in evaluate(
          state.variables(), step_lib.bind_aux(apply_fn, state.aux)).items()})
    done = step - first_step
    eta = (num_steps - step) * train_time / max(done, 1)
    logging.info('step %d/%d %s eta %.0fs', step, num_steps,
                 ' '.join(f'{k}={v:.4g}' for k, v in m.items()), eta)
    history.append({'step': step, **m})
    if writer:
      writer.write_scalars(step, m)
    if store is not None and (step % ckpt_every == 0 or step == num_steps
                              ) and not dip:
      store.save(step, state, max(accuracies))

  final_apply = step_lib.bind_aux(apply_fn, state.aux)
  final = evaluate(state.variables(), final_apply)
  # Whole arrays on this host (a collective with several processes) for
  # the counts, the reports and the files.
  host = sharding_lib.to_host(state)
  final_apply = step_lib.bind_aux(apply_fn, host.aux)
  results = {
      'model': s.model,
      'dataset': s.dataset,
      'input_shape': list(ds.train_images.shape[1:]),
      'test_error': final['error'],
      'test_errors': int(final['errors']),
      'test_loss': final['loss'],
      'train_loss': history[-1]['loss'] if history else None,
      'num_train_steps': num_steps,
      'train_wall_time_s': train_time,
      'wall_time_s': time.time() - t_start,
      'devices': f'{jax.device_count()} x {jax.devices()[0].device_kind}',
      'diverged': not all(math.isfinite(h['loss']) for h in history)
                  or not math.isfinite(final['loss'])
                  or collapsed(accuracies, num_classes, True),
      'history': history,
  }
  if not math.isfinite(final['loss']) and s.on_nonfinite_loss == 'stop':
    raise DivergedError(f'The final test loss is {final["loss"]}: the model '
                        'does not compute finite outputs.')
  results.update(metrics.summarize(model, host.variables(),
                                   ds.test_images[:1]))
  if s.measure_latency:
    results['latency_ms'] = metrics.latency_ms(
        final_apply, host.variables(), ds.test_images)
  for p in plugins:
    if p.report is not None:
      results.update(p.report(host, ctx))
  if writer:
    writer.write_scalars(num_steps, {'final_test_error': final['error']})
    writer.flush()
  if store is not None:
    results['model_file_bytes'] = store.write_variables(
        'model.msgpack', host.variables())
    results['config'] = registry.resolved(parsed)
    store.write_results(results)
  logging.info('final test error %.4f (%d errors)', final['error'],
               final['errors'])
  return state, results


def _writer(store):
  if store is None or not store.writes:
    return None
  from clu import metric_writers
  return metric_writers.SummaryWriter(store.workdir)
