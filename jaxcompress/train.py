"""The train loop every experiment shares: config in, trained state out.

  dataset -> model -> loss -> gradients -> optax chain -> params

`train_and_evaluate(config, workdir)` builds the model, the optimizer and
the compression plugins named by the config (jaxcompress.strategies), then
trains with a jitted step that compiles once per run. The training set lives
on the device and `steps_per_call` steps run as one compiled `lax.scan` over
shuffled on-device indices (one epoch per call by default); with
`config.in_memory=False` batches stream through tf.data into the same step.

Data parallelism: the batch is sharded over the `data` axis of a Mesh that
spans all devices, parameters and optimizer state are replicated, so the same
code runs on one CPU, a GPU, a TPU slice or fake CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count=4).

A run writes to `workdir`: TensorBoard scalars, orbax checkpoints (a
restarted run resumes from the last one and ends with the same metrics),
`model.msgpack` (the final variables) and `results.json`.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import time
from typing import Any

import flax
import flax.serialization
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from jaxcompress import data as data_lib
from jaxcompress import metrics, models, optim, strategies
from jaxcompress import plugin as plugin_lib

# How many times each jitted function has been traced in this process; a test
# asserts that a whole run traces its train step once.
TRACE_COUNTS: collections.Counter = collections.Counter()


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any

  def variables(self) -> dict:
    v = {'params': self.params}
    if self.batch_stats:
      v['batch_stats'] = self.batch_stats
    return v


# ----------------------------------------------------------------- config ---


def data_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh named 'data' over all devices (sharding left to the
  compiler outside the constraints we place)."""
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


def resolve_steps(config, num_train_examples: int) -> tuple[int, int, int]:
  """(num_train_steps, steps_per_epoch, steps_per_call) for a config."""
  spe = num_train_examples // config.batch_size
  if spe < 1:
    raise ValueError(f'batch_size {config.batch_size} is larger than the '
                     f'{num_train_examples} training examples')
  total = (config.num_train_steps if config.num_train_steps > 0
           else int(round(config.num_epochs * spe)))
  per_call = config.steps_per_call if config.steps_per_call > 0 else spe
  if per_call > spe:
    raise ValueError(f'steps_per_call {per_call} exceeds one epoch ({spe} '
                     'steps)')
  if total % per_call:
    raise ValueError(f'num_train_steps {total} is not a multiple of '
                     f'steps_per_call {per_call}')
  for field in ('eval_every_steps', 'checkpoint_every_steps'):
    every = config[field]
    if every > 0 and every % per_call:
      raise ValueError(f'{field} {every} is not a multiple of steps_per_call '
                       f'{per_call}')
  return total, spe, per_call


def check_config(config) -> None:
  """Raises ValueError for names and sizes that cannot work, before any data
  is loaded or anything compiled."""
  data_lib.check_name(config.dataset)
  if config.model not in models.MODELS:
    raise ValueError(f'Unknown model {config.model!r}; known models: '
                     f'{sorted(models.MODELS)}')
  optim.check(config)
  n = jax.device_count()
  if config.batch_size % n:
    raise ValueError(f'batch_size {config.batch_size} is not divisible by the '
                     f'{n} devices of the data mesh')
  if config.eval_batch_size % n:
    raise ValueError(f'eval_batch_size {config.eval_batch_size} is not '
                     f'divisible by the {n} devices of the data mesh')
  strategies.check(config)


def model_signature(config, variables) -> dict:
  """What identifies a model in a checkpoint: its name and parameter shapes."""
  shapes = {name: list(np.shape(x)) for name, x in
            metrics.named_leaves(variables)}
  return {'model': config.model,
          'model_kwargs': config.model_kwargs.to_dict(),
          'shapes': shapes}


def load_init(path: str, variables: dict) -> dict:
  """Variables saved by an earlier run, checked against this model's.

  Args:
    path: a `model.msgpack` (as every run writes), or a workdir holding one.
    variables: the freshly initialized variables of the configured model.

  Raises:
    ValueError: a missing file, or one holding another model's variables
      (a different set of arrays or a different shape), naming the array.
  """
  if os.path.isdir(path):
    path = os.path.join(path, 'model.msgpack')
  if not os.path.exists(path):
    raise ValueError(f'init_from: no such file {path!r}')
  with open(path, 'rb') as f:
    loaded = flax.serialization.msgpack_restore(f.read())
  want = dict(metrics.named_leaves(variables))
  got = dict(metrics.named_leaves(loaded))
  for name in sorted(set(want) | set(got)):
    if name not in got or name not in want:
      where = 'missing from' if name not in got else 'unexpected in'
      raise ValueError(f'init_from {path!r} holds another model: {name} '
                       f'is {where} the file')
    if np.shape(got[name]) != np.shape(want[name]):
      raise ValueError(f'init_from {path!r} holds another model: {name} has '
                       f'shape {np.shape(got[name])}, the configured model '
                       f'{np.shape(want[name])}')
  return jax.tree.map(lambda v, x: np.asarray(x, np.asarray(v).dtype),
                      variables, flax.serialization.from_state_dict(
                          variables, loaded))


def load_run(workdir: str) -> tuple[Any, dict, dict]:
  """(model, variables, results) of a finished run's workdir."""
  path = os.path.join(workdir, 'results.json')
  if not os.path.exists(path):
    raise ValueError(f'No finished run in {workdir!r} (no results.json)')
  with open(path) as f:
    results = json.load(f)
  cfg = results['config']
  # JSON turns tuples (widths, kept inputs) into lists; modules must hash.
  kwargs = {k: tuple(v) if isinstance(v, list) else v
            for k, v in cfg['model_kwargs'].items()}
  model = models.get_model(cfg['model'], **kwargs)
  x = jnp.zeros((1, 28, 28, 1))  # the zoo's MNIST input
  fresh = jax.jit(model.init)(jax.random.key(0), x)
  variables = load_init(workdir, flax.core.unfreeze(fresh))
  return model, variables, results


# ------------------------------------------------------------------- step ---


def cross_entropy(logits, batch):
  return optax.softmax_cross_entropy_with_integer_labels(
      logits, batch['label']).mean()


def jitter(images, key, pixels: int):
  """Random translation of each image by up to `pixels` in x and y."""
  if not pixels:
    return images
  b, h, w, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (pixels,) * 2, (pixels,) * 2, (0, 0)),
                   constant_values=images.min())
  offsets = jax.random.randint(key, (b, 2), 0, 2 * pixels + 1)
  crop = lambda im, o: jax.lax.dynamic_slice(im, (o[0], o[1], 0),
                                             (h, w, im.shape[-1]))
  return jax.vmap(crop)(padded, offsets)


def make_apply(model, plugins):
  """model.apply wrapped by every plugin's params_fn and wrap_apply."""
  apply = model.apply
  for p in plugins:
    if p.wrap_apply is not None:
      apply = p.wrap_apply(apply)
  params_fns = [p.params_fn for p in plugins if p.params_fn is not None]

  def apply_fn(variables, *args, **kwargs):
    params = variables['params']
    for fn in params_fns:
      params = fn(params)
    return apply({**variables, 'params': params}, *args, **kwargs)

  return apply_fn


def make_train_step(model, tx, plugins, config, data_sharding):
  """The jitted-able step `(state, batch) -> (state, metrics)`."""
  apply_fn = make_apply(model, plugins)
  loss_fns = [p.loss_fn for p in plugins if p.loss_fn is not None]
  if len(loss_fns) > 1:
    raise ValueError('At most one plugin may replace the task loss')
  task_loss = loss_fns[0] if loss_fns else cross_entropy
  penalties = [p.penalty for p in plugins if p.penalty is not None]
  base_key = jax.random.key(config.seed)

  def train_step(state: TrainState, batch):
    TRACE_COUNTS['train_step'] += 1
    batch = jax.lax.with_sharding_constraint(batch, data_sharding)
    key = jax.random.fold_in(base_key, state.step)
    jitter_key, dropout_key = jax.random.split(key)
    batch = dict(batch, image=jitter(batch['image'], jitter_key,
                                     config.jitter_pixels))

    def loss_fn(params):
      variables = {'params': params}
      if state.batch_stats:
        variables['batch_stats'] = state.batch_stats
      logits, new_vars = apply_fn(variables, batch['image'], train=True,
                                  rngs={'dropout': dropout_key},
                                  mutable=['batch_stats'])
      loss = task_loss(logits, batch)
      # Auxiliary losses a plugin's wrap_apply returns (distillation hints).
      loss = loss + sum(jax.tree.leaves(new_vars.get('losses', {})))
      for pen in penalties:
        loss = loss + pen(params)
      return loss, (logits, new_vars.get('batch_stats', state.batch_stats))

    (loss, (logits, batch_stats)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch['label'])
    new_state = state.replace(step=state.step + 1, params=params,
                              batch_stats=batch_stats, opt_state=opt_state)
    return new_state, {'loss': loss, 'accuracy': accuracy}

  return train_step


def make_train_chunk(train_step, steps_per_call, steps_per_epoch,
                     batch_size, seed):
  """`(state, arrays) -> (state, mean metrics)`: `steps_per_call` steps as one
  lax.scan, each batch gathered on the device from a per-epoch permutation."""
  shuffle_key = jax.random.key(seed + 1)

  def indices(start, n):
    steps = start + jnp.arange(steps_per_call)
    epoch0 = start // steps_per_epoch
    perms = jnp.stack([
        jax.random.permutation(jax.random.fold_in(shuffle_key, epoch0 + i), n)
        for i in (0, 1)])  # a call spans at most two epochs
    pos = (steps % steps_per_epoch)[:, None] * batch_size + jnp.arange(
        batch_size)[None]
    return perms[(steps // steps_per_epoch - epoch0)[:, None], pos]

  def train_chunk(state, arrays):
    n = jax.tree.leaves(arrays)[0].shape[0]
    idx = indices(state.step, n)

    def body(state, batch_idx):
      batch = jax.tree.map(lambda a: a[batch_idx], arrays)
      return train_step(state, batch)

    state, ms = jax.lax.scan(body, state, idx)
    return state, jax.tree.map(jnp.mean, ms)

  return train_chunk


def make_evaluate(model, eval_batch_size, data_sharding, images, labels):
  """`(variables, apply_fn=None) -> {'error', 'loss'}` over a fixed eval set,
  in batches under lax.map; jitted once per apply_fn."""
  n = len(labels)
  pad = -n % eval_batch_size
  weights = np.concatenate([np.ones(n, np.float32), np.zeros(pad, np.float32)])
  xs = np.concatenate([images, np.zeros((pad,) + images.shape[1:],
                                        images.dtype)])
  ys = np.concatenate([labels, np.zeros(pad, labels.dtype)])
  shape = lambda a: a.reshape((-1, eval_batch_size) + a.shape[1:])
  xs, ys, weights = shape(xs), shape(ys), shape(weights)

  # The eval set is an argument, not a closed-over constant: XLA would
  # otherwise constant-fold work over the whole test set at compile time.
  eval_set = jax.device_put((xs, ys, weights))

  @functools.partial(jax.jit, static_argnums=1)
  def _eval(variables, apply_fn, eval_set):
    def one(b):
      x, y, w = jax.lax.with_sharding_constraint(b, data_sharding)
      logits = apply_fn(variables, x, train=False)
      wrong = (jnp.argmax(logits, -1) != y) * w
      loss = optax.softmax_cross_entropy_with_integer_labels(logits, y) * w
      return wrong.sum(), loss.sum()
    wrong, loss = jax.lax.map(one, eval_set)
    return {'error': wrong.sum() / n, 'loss': loss.sum() / n,
            'errors': wrong.sum()}

  def evaluate(variables, apply_fn=None):
    out = _eval(variables, apply_fn or model.apply, eval_set)
    return {k: float(v) for k, v in out.items()}

  return evaluate


# ------------------------------------------------------------------- run ---


def _checkpoint_manager(workdir, signature):
  import orbax.checkpoint as ocp
  ckpt_dir = os.path.join(os.path.abspath(workdir), 'checkpoints')
  sig_path = os.path.join(workdir, 'model_signature.json')
  mngr = ocp.CheckpointManager(
      ckpt_dir, options=ocp.CheckpointManagerOptions(max_to_keep=2,
                                                     create=True))
  if mngr.latest_step() is not None and os.path.exists(sig_path):
    with open(sig_path) as f:
      old = json.load(f)
    if old != signature:
      raise ValueError(
          f'{workdir} holds a checkpoint of a different model '
          f'({old["model"]} {old["model_kwargs"]}, '
          f'{len(old["shapes"])} arrays) than the configured '
          f'{signature["model"]} {signature["model_kwargs"]}; use another '
          'workdir')
  with open(sig_path, 'w') as f:
    json.dump(signature, f, indent=1)
  return mngr


def _restore(mngr, state):
  import orbax.checkpoint as ocp
  step = mngr.latest_step()
  if step is None:
    return state
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state)
  restored = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
  logging.info('Resumed from checkpoint at step %d', step)
  return restored


@functools.lru_cache(maxsize=4)
def _load_data(name, data_dir, manual_dir):
  return data_lib.load(name, data_dir or None, manual_dir or None)


def load_data(config) -> data_lib.Dataset:
  """The config's dataset (cached per process), subset as configured."""
  ds = _load_data(config.dataset, config.data_dir, config.manual_dir)
  if config.train_subset or config.test_subset:
    tr = config.train_subset or len(ds.train_labels)
    te = config.test_subset or len(ds.test_labels)
    ds = data_lib.Dataset(ds.train_images[:tr], ds.train_labels[:tr],
                          ds.test_images[:te], ds.test_labels[:te],
                          ds.mean, ds.std)
  return ds


def create_train_state(config, model, variables, tx) -> TrainState:
  params = variables['params']
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get('batch_stats', {}),
                    opt_state=tx.init(params))


def train_and_evaluate(config: ml_collections.ConfigDict,
                       workdir: str | None) -> tuple[TrainState, dict]:
  """Trains and evaluates the model the config describes.

  Args:
    config: an experiment ConfigDict (experiments/configs/default.py lists
      every field).
    workdir: where checkpoints, TensorBoard scalars, the model file and
      results.json go; None trains without writing anything.

  Returns:
    The final TrainState and the results dict (also written to
    workdir/results.json).

  Raises:
    ValueError: for an unknown model, dataset, optimizer or schedule, a batch
      size the devices do not divide, step counts that do not line up, or a
      workdir holding a checkpoint of another model; all before compiling.
  """
  check_config(config)
  t_start = time.time()
  ds = load_data(config)
  num_steps, spe, per_call = resolve_steps(config, len(ds.train_labels))
  mesh = data_mesh()
  replicated = NamedSharding(mesh, P())
  data_sharding = NamedSharding(mesh, P('data'))

  model = models.get_model(config.model, **config.model_kwargs)
  init_key = jax.random.key(config.seed)
  variables = jax.jit(lambda k: model.init(k, ds.train_images[:1]))(init_key)
  variables = jax.tree.map(np.asarray, flax.core.unfreeze(variables))
  if config.init_from:
    variables = load_init(config.init_from, variables)
  signature = model_signature(config, variables)
  mngr = _checkpoint_manager(workdir, signature) if workdir else None

  evaluate = make_evaluate(model, config.eval_batch_size, data_sharding,
                           ds.test_images, ds.test_labels)

  def loss(params, images, labels):
    v = dict(variables, params=params)
    logits, _ = model.apply(v, images, train=True, mutable=['batch_stats'])
    return cross_entropy(logits, {'label': labels})

  ctx = plugin_lib.Context(
      config=config, model=model, variables=variables,
      train_images=ds.train_images, train_labels=ds.train_labels,
      test_images=ds.test_images, test_labels=ds.test_labels, loss=loss,
      evaluate=evaluate, workdir=workdir, num_train_steps=num_steps,
      steps_per_epoch=spe)
  plugins = strategies.build(config, ctx)
  tx = optax.chain(optim.make_optimizer(config, num_steps),
                   *[p.tx for p in plugins if p.tx is not None])

  state = jax.device_put(create_train_state(config, model, variables, tx),
                         replicated)
  if mngr is not None:
    state = _restore(mngr, state)
  train_step = make_train_step(model, tx, plugins, config, data_sharding)
  apply_fn = make_apply(model, plugins)

  writer = _writer(workdir)
  if config.in_memory:
    arrays = {'image': ds.train_images, 'label': ds.train_labels}
    for p in plugins:
      arrays.update(p.train_arrays or {})
    arrays = jax.device_put(arrays, replicated)
    chunk = jax.jit(make_train_chunk(train_step, per_call, spe,
                                     config.batch_size, config.seed),
                    donate_argnums=0)
    run_calls = lambda state: chunk(state, arrays)
  else:
    stream = iter(data_lib.stream(
        'train', config.batch_size, seed=config.seed + int(state.step),
        name=config.dataset, data_dir=config.data_dir or None,
        manual_dir=config.manual_dir or None))
    step_fn = jax.jit(train_step, donate_argnums=0)

    def run_calls(state):
      ms = []
      for _ in range(per_call):
        batch = jax.device_put(next(stream), data_sharding)
        state, m = step_fn(state, batch)
        ms.append(m)
      return state, jax.tree.map(lambda *x: jnp.mean(jnp.stack(x)), *ms)

  eval_every = config.eval_every_steps
  ckpt_every = (config.checkpoint_every_steps
                if config.checkpoint_every_steps > 0 else per_call)
  step = int(state.step)
  history = []
  train_time = 0.0
  while step < num_steps:
    t0 = time.time()
    state, m = run_calls(state)
    m = jax.tree.map(float, m)
    step = int(state.step)
    dt = time.time() - t0
    train_time += dt
    m['steps_per_sec'] = per_call / dt
    if eval_every > 0 and step % eval_every == 0 and step < num_steps:
      m.update({f'test_{k}': v for k, v in
                evaluate(state.variables(), apply_fn).items()})
    logging.info('step %d/%d %s', step, num_steps,
                 ' '.join(f'{k}={v:.4g}' for k, v in m.items()))
    history.append({'step': step, **m})
    if writer:
      writer.write_scalars(step, m)
    if mngr is not None and (step % ckpt_every == 0 or step == num_steps):
      mngr.save(step, args=_save_args(state))
  if mngr is not None:
    mngr.wait_until_finished()

  final = evaluate(state.variables(), apply_fn)
  results = {
      'model': config.model,
      'test_error': final['error'],
      'test_errors': int(final['errors']),
      'test_loss': final['loss'],
      'train_loss': history[-1]['loss'] if history else None,
      'num_train_steps': num_steps,
      'train_wall_time_s': train_time,
      'wall_time_s': time.time() - t_start,
      'devices': f'{jax.device_count()} x {jax.devices()[0].device_kind}',
      'history': history,
  }
  results.update(metrics.summarize(model, state.variables(),
                                   ds.test_images[:1]))
  if config.measure_latency:
    results['latency_ms'] = metrics.latency_ms(
        apply_fn, state.variables(), ds.test_images)
  for p in plugins:
    if p.report is not None:
      results.update(p.report(state, ctx))
  if writer:
    writer.write_scalars(num_steps, {'final_test_error': final['error']})
    writer.flush()
  if workdir:
    results['model_file_bytes'] = metrics.save_variables(
        state.variables(), os.path.join(workdir, 'model.msgpack'))
    results['config'] = config.to_dict()
    with open(os.path.join(workdir, 'results.json'), 'w') as f:
      json.dump(results, f, indent=1, default=str)
  logging.info('final test error %.4f (%d errors)', final['error'],
               final['errors'])
  return state, results


def _save_args(state):
  import orbax.checkpoint as ocp
  return ocp.args.StandardSave(state)


def _writer(workdir):
  if not workdir:
    return None
  from clu import metric_writers
  if jax.process_index() > 0:
    return None
  return metric_writers.SummaryWriter(workdir)  # progress is logged above
