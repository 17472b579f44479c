"""One compiled call of training: on-device scanned steps, or a stream.

`make_runner` returns ``state -> (state, mean metrics)`` running
`steps_per_call` train steps: with the data on the device (`in_memory`) as
one jitted `lax.scan` over batches gathered from per-epoch permutations
(`step.make_train_chunk`; several processes: the training set is sharded
over the mesh, each process holding the share it decoded, and XLA gathers
each batch across them), otherwise as jitted steps fed by the tf.data
stream (several processes: each reads its share, and every global batch is
assembled from the processes' parts with
`jax.make_array_from_process_local_data`). Long calls report progress (steps/s, the run's ETA) every
`log_every_steps` steps.
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
from absl import logging

from jaxcompress import data as data_lib
from jaxcompress import layers
from jaxcompress.train import step as step_lib


def make_runner(s, state, ds, plugins, model, tx, optimizer, data_sharding,
                replicated, state_shardings, per_call, spe, num_steps):
  """`state -> (state, mean metrics)`: one compiled call of `per_call` steps,
  on-device (scanned) or streamed; the state keeps `state_shardings`."""
  train_step = step_lib.make_train_step(
      model, tx, plugins, data_sharding, seed=s.seed,
      jitter_pixels=s.jitter_pixels, aux_tx=optimizer)
  if s.in_memory:
    # The training images this process holds: the whole set, or its share
    # (each process decoded its own; the gather crosses processes).
    share = ds.share
    images, labels = ((ds.train_images, ds.train_labels) if share is None
                      else (share.images, share.labels))
    arrays = {'image': images, 'label': labels}
    for p in plugins:
      if p.train_arrays is not None:
        arrays.update(p.train_arrays(images))
    if share is None:
      arrays = jax.device_put(arrays, replicated)
      rows = None
    else:
      arrays = {k: jax.make_array_from_process_local_data(data_sharding, v)
                for k, v in arrays.items()}
      rows = jax.device_put(share.rows, replicated)
    progress = None
    if s.log_every_steps > 0 and per_call > s.log_every_steps:
      progress = (s.log_every_steps, progress_printer(num_steps))
    chunk = jax.jit(step_lib.make_train_chunk(
        train_step, per_call, spe, s.batch_size, s.seed, progress),
                    donate_argnums=0, out_shardings=(state_shardings,
                                                     replicated),
                    compiler_options=layers.train_compiler_options())
    return lambda state: chunk(state, arrays, rows)
  n, i = jax.process_count(), jax.process_index()
  if s.batch_size % n:
    raise ValueError(f'batch_size {s.batch_size} is not divisible by the '
                     f'{n} processes')
  # The images the run trains on (train_subset, less the validation split):
  # the first ds.num_train of the split, as tfds slices it. Each process
  # reads its share of them and its part of every global batch; the global
  # batch is assembled on the mesh.
  subset = ds.num_train if s.train_subset or s.validation_examples else 0
  stream = iter(data_lib.stream(
      'train', s.batch_size // n, seed=s.seed + int(state.step),
      name=s.dataset, data_dir=s.data_dir or None,
      manual_dir=s.manual_dir or None, subset=subset,
      process_index=i, process_count=n))
  step_fn = jax.jit(train_step, donate_argnums=0,
                    out_shardings=(state_shardings, replicated),
                    compiler_options=layers.train_compiler_options())
  printer = progress_printer(num_steps)

  def run_calls(state):
    ms = []
    for _ in range(per_call):
      batch = jax.tree.map(
          lambda x: jax.make_array_from_process_local_data(data_sharding, x),
          next(stream))
      state, m = step_fn(state, batch)
      ms.append(m)
      if s.log_every_steps > 0 and len(ms) % s.log_every_steps == 0:
        printer(state.step, m['loss'])
    return state, jax.tree.map(lambda *x: jnp.mean(jnp.stack(x)), *ms)

  return run_calls


def progress_printer(num_steps: int):
  """A host callback `(step, loss)` logging steps/s and the run's ETA."""
  last = {}

  def show(step, loss):
    now, step = time.time(), int(step)
    if 'time' in last and step > last['step']:
      rate = (step - last['step']) / (now - last['time'])
      logging.info('  step %d/%d loss %.4g, %.1f steps/s, eta %.0fs', step,
                   num_steps, float(loss), rate, (num_steps - step) / rate)
    last.update(time=now, step=step)

  return show
