"""The compiled pieces of training: the train step, scanned epochs, evaluation.

  dataset -> model -> loss -> gradients -> optax chain -> params

`make_train_step` builds `(state, batch) -> (state, metrics)` from a model,
an optax chain and the compression plugins: the forward pass runs on
`params_fn(params, aux)` inside every plugin's `wrap_apply`, the loss is the
task loss (or a plugin's) plus penalties, and one `tx.update` (which also
receives the raw gradients as `grads=`) followed by `optax.apply_updates`
gives parameters that already satisfy every mask. `make_train_chunk` runs
many steps as one `lax.scan` over batches gathered on the device from
per-epoch permutations; `make_evaluate` measures a fixed evaluation set in
batches under `lax.map`.

Nothing here reads a config, touches a file or knows a strategy.
"""

from __future__ import annotations

import collections
import functools
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

# How many times each jitted function has been traced in this process; a test
# asserts that a whole run traces its train step once.
TRACE_COUNTS: collections.Counter = collections.Counter()


@flax.struct.dataclass
class TrainState:
  """Everything a run carries from step to step (and checkpoints).

  Attributes:
    step: number of train steps taken.
    params: the model's trainable parameters.
    batch_stats: batch-norm running statistics ({} without batch norm).
    opt_state: the optax chain's state (optimizer, masks, counters).
    aux: plugins' own trainable arrays, {plugin name: pytree}.
    aux_opt_state: the optimizer's state for `aux`.
  """
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  aux: Any = flax.struct.field(default_factory=dict)
  aux_opt_state: Any = flax.struct.field(default_factory=dict)

  def variables(self) -> dict:
    v = {'params': self.params}
    if self.batch_stats:
      v['batch_stats'] = self.batch_stats
    return v


def create_train_state(variables: dict, tx: optax.GradientTransformation,
                       plugins=(), aux_tx=None) -> TrainState:
  """Step 0 of a run from initial variables."""
  params = variables['params']
  aux = {p.name: p.aux_init(params) for p in plugins
         if p.aux_init is not None}
  aux_opt_state = aux_tx.init(aux) if aux and aux_tx is not None else {}
  return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                    batch_stats=variables.get('batch_stats', {}),
                    opt_state=tx.init(params), aux=aux,
                    aux_opt_state=aux_opt_state)


def data_mesh() -> jax.sharding.Mesh:
  """A 1-D mesh named 'data' over all devices."""
  return jax.make_mesh((jax.device_count(),), ('data',),
                       axis_types=(jax.sharding.AxisType.Auto,))


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
  """`apply_fn(variables, x, aux=None, **kw)`: model.apply wrapped by every
  plugin's params_fn and wrap_apply."""
  apply = model.apply
  for p in plugins:
    if p.wrap_apply is not None:
      apply = p.wrap_apply(apply)
  params_fns = [(p.name, p.params_fn) for p in plugins
                if p.params_fn is not None]

  def apply_fn(variables, *args, aux=None, **kwargs):
    params = variables['params']
    for name, fn in params_fns:
      params = fn(params, (aux or {}).get(name))
    return apply({**variables, 'params': params}, *args, **kwargs)

  return apply_fn


def bind_aux(apply_fn, aux):
  """`apply_fn` with the plugins' trained aux arrays fixed (for evaluation)."""
  if not aux:
    return apply_fn
  return lambda variables, *a, **kw: apply_fn(variables, *a, aux=aux, **kw)


def make_train_step(model, tx, plugins, data_sharding, *, seed: int,
                    jitter_pixels: int = 0, aux_tx=None):
  """The jit-able step `(state, batch) -> (state, metrics)`."""
  apply_fn = make_apply(model, plugins)
  loss_fns = [p.loss_fn for p in plugins if p.loss_fn is not None]
  if len(loss_fns) > 1:
    raise ValueError('At most one plugin may replace the task loss')
  task_loss = loss_fns[0] if loss_fns else cross_entropy
  penalties = [p.penalty for p in plugins if p.penalty is not None]
  base_key = jax.random.key(seed)

  def train_step(state: TrainState, batch):
    TRACE_COUNTS['train_step'] += 1
    batch = jax.lax.with_sharding_constraint(batch, data_sharding)
    key = jax.random.fold_in(base_key, state.step)
    jitter_key, dropout_key = jax.random.split(key)
    batch = dict(batch, image=jitter(batch['image'], jitter_key,
                                     jitter_pixels))

    def loss_fn(params, aux):
      variables = {'params': params}
      if state.batch_stats:
        variables['batch_stats'] = state.batch_stats
      logits, new_vars = apply_fn(variables, batch['image'], aux=aux,
                                  train=True, rngs={'dropout': dropout_key},
                                  mutable=['batch_stats'])
      loss = task_loss(logits, batch)
      # Auxiliary losses a plugin's wrap_apply returns (distillation hints).
      loss = loss + sum(jax.tree.leaves(new_vars.get('losses', {})))
      for pen in penalties:
        loss = loss + pen(params)
      return loss, (logits, new_vars.get('batch_stats', state.batch_stats))

    (loss, (logits, batch_stats)), (grads, aux_grads) = jax.value_and_grad(
        loss_fn, argnums=(0, 1), has_aux=True)(state.params, state.aux)
    updates, opt_state = tx.update(grads, state.opt_state, state.params,
                                   grads=grads)
    params = optax.apply_updates(state.params, updates)
    aux, aux_opt_state = state.aux, state.aux_opt_state
    if aux:
      aux_updates, aux_opt_state = aux_tx.update(aux_grads, aux_opt_state,
                                                 aux)
      aux = optax.apply_updates(aux, aux_updates)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == batch['label'])
    new_state = state.replace(step=state.step + 1, params=params,
                              batch_stats=batch_stats, opt_state=opt_state,
                              aux=aux, aux_opt_state=aux_opt_state)
    return new_state, {'loss': loss, 'accuracy': accuracy}

  return train_step


def make_train_chunk(train_step, steps_per_call, steps_per_epoch,
                     batch_size, seed, progress=None):
  """`(state, arrays, rows=None) -> (state, mean metrics)`: `steps_per_call`
  steps as one lax.scan, each batch gathered on the device from a per-epoch
  permutation of the examples.

  `rows`, if given, maps each example to its row of `arrays` (a training set
  sharded across processes, each share padded: `feed.TrainShare`); the
  permutation is over the examples, so the batches are those of the same
  arrays held whole.

  `progress`, if given, is `(every, fn)`: the host function `fn(step, loss)`
  is called (asynchronously, through `jax.debug.callback`) after every
  `every`-th step inside the scan, so long epochs can report progress.
  """
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

  def train_chunk(state, arrays, rows=None):
    n = (rows if rows is not None else jax.tree.leaves(arrays)[0]).shape[0]
    idx = indices(state.step, n)

    def body(state, batch_idx):
      if rows is not None:
        batch_idx = rows[batch_idx]
      batch = jax.tree.map(lambda a: a[batch_idx], arrays)
      state, m = train_step(state, batch)
      if progress is not None:
        every, fn = progress
        jax.lax.cond(state.step % every == 0,
                     lambda: jax.debug.callback(fn, state.step, m['loss']),
                     lambda: None)
      return state, m

    state, ms = jax.lax.scan(body, state, idx)
    return state, jax.tree.map(jnp.mean, ms)

  return train_chunk


def eval_sums(apply_fn, variables, x, y, w):
  """(misclassified, summed cross-entropy) over a batch, each example
  weighted by `w` (0 for padding)."""
  logits = apply_fn(variables, x, train=False)
  wrong = (jnp.argmax(logits, -1) != y) * w
  loss = optax.softmax_cross_entropy_with_integer_labels(logits, y) * w
  return wrong.sum(), loss.sum()


def make_evaluate(model, eval_batch_size, data_sharding, images, labels):
  """`(variables, apply_fn=None) -> {'error', 'loss', 'errors'}` over a fixed
  eval set, in batches under lax.map; jitted once per apply_fn. A last,
  partial batch is padded with zero-weight examples that count nowhere."""
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
      return eval_sums(apply_fn, variables, x, y, w)
    wrong, loss = jax.lax.map(one, eval_set)
    return {'error': wrong.sum() / n, 'loss': loss.sum() / n,
            'errors': wrong.sum()}

  def evaluate(variables, apply_fn=None):
    out = _eval(variables, apply_fn or model.apply, eval_set)
    return {k: float(v) for k, v in out.items()}

  return evaluate
