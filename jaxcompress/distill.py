"""Knowledge distillation (Hinton, Vinyals & Dean 2015).

The student minimises

  alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, y)

where t and s are teacher and student logits and T the temperature; the T^2
keeps the soft-target gradients on the scale of the hard-target ones.

The teacher is a trained run's workdir (its results.json names the model, its
model.msgpack holds the variables). Its logits are computed once for the whole
training set and stored on the device beside the images (`Plugin.train_arrays`)
when the student sees un-augmented images; with `jitter_pixels` the frozen
teacher runs inside the same jitted step on the jittered batch.

Feature (hint) distillation adds, for named pairs of intermediate layers,

  hint_weight * || G(student features) - G(teacher features) ||_F^2 / b^2

with G the row-normalized batch similarity matrix h h^T of a layer's outputs
(similarity-preserving distillation, Tung & Mori 2019: it compares layers of
any widths without a learned regressor), or with `hint_loss='mse'` the mean
squared difference of equally wide features (FitNets' hint without the
regressor, Romero et al. 2015). The teacher then runs inside the jitted step;
the hint term reaches the train loss through the `losses` collection
(`jaxcompress.plugin`).

Config section (`config.distillation`):
  teacher_workdir: workdir of the trained teacher.
  temperature: T (> 0).
  alpha: weight of the soft loss, in [0, 1].
  hints: optional ((student_layer, teacher_layer), ...) module names whose
    outputs are matched, e.g. (('fc2', 'fc2'),).
  hint_weight: weight of the hint term (default 1.0).
  hint_loss: 'similarity' (default) or 'mse'.

`run(config, workdir)` is the entry of a two-stage experiment: it trains the
teacher described by `config.teacher` (a dict of overrides of `config`) into
workdir/teacher, then the student into workdir/student.
"""

from __future__ import annotations

import json
import os

import flax.traverse_util
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from jaxcompress import plugin as plugin_lib


def distillation_loss(student_logits: jax.Array, teacher_logits: jax.Array,
                      labels: jax.Array, temperature: float,
                      alpha: float) -> jax.Array:
  """Hinton et al.'s loss, averaged over the batch.

  Args:
    student_logits, teacher_logits: (batch, classes).
    labels: (batch,) integer class labels.
    temperature: T > 0 softening both distributions.
    alpha: weight of the soft-target term; 1 - alpha weighs cross-entropy.
  """
  t = jax.nn.log_softmax(jax.lax.stop_gradient(teacher_logits) / temperature)
  s = jax.nn.log_softmax(student_logits / temperature)
  kl = jnp.sum(jnp.exp(t) * (t - s), axis=-1)
  ce = optax.softmax_cross_entropy_with_integer_labels(student_logits, labels)
  return jnp.mean(alpha * temperature**2 * kl + (1.0 - alpha) * ce)


def similarity_matrix(h: jax.Array) -> jax.Array:
  """(b, b) row-normalized h h^T of a batch of features (any trailing dims)."""
  h = h.reshape(h.shape[0], -1)
  g = h @ h.T
  return g / (jnp.linalg.norm(g, axis=1, keepdims=True) + 1e-8)


def hint_loss(student: jax.Array, teacher: jax.Array, kind: str) -> jax.Array:
  """Distance of one student layer's features from the teacher's."""
  teacher = jax.lax.stop_gradient(teacher)
  if kind == 'mse':
    return jnp.mean((student - teacher) ** 2)
  b = student.shape[0]
  return jnp.sum((similarity_matrix(student) - similarity_matrix(teacher))
                 ** 2) / b**2


HINT_LOSSES = ('similarity', 'mse')


def _outputs(intermediates, names, who):
  """{name: output} of the named modules from a captured 'intermediates'."""
  flat = {'/'.join(k[:-1]): v[0] for k, v in
          flax.traverse_util.flatten_dict(intermediates).items()}
  missing = [n for n in names if n not in flat]
  if missing:
    raise ValueError(f'distillation hint: the {who} has no layer '
                     f'{missing[0]!r}; its layers: {sorted(flat)}')
  return {n: flat[n] for n in names}


def _hint_apply(teacher, t_vars, hints, weight, kind):
  """wrap_apply: in training, matches the named layers' outputs."""
  s_names = {s for s, _ in hints}
  t_names = {t for _, t in hints}
  take = lambda names: (lambda mdl, method: method == '__call__'
                        and '/'.join(mdl.path) in names)

  def wrap(apply):
    def wrapped(variables, x, *args, **kwargs):
      mutable = kwargs.get('mutable', False)
      if not kwargs.get('train') or mutable is False:
        return apply(variables, x, *args, **kwargs)
      kwargs = dict(kwargs, mutable=[*mutable, 'intermediates'],
                    capture_intermediates=take(s_names))
      out, new_vars = apply(variables, x, *args, **kwargs)
      new_vars = dict(new_vars)
      s_out = _outputs(new_vars.pop('intermediates', {}), s_names, 'student')
      _, t_cap = teacher.apply(t_vars, x, train=False,
                               capture_intermediates=take(t_names),
                               mutable=['intermediates'])
      t_out = _outputs(t_cap.get('intermediates', {}), t_names, 'teacher')
      new_vars['losses'] = {'hint': weight * sum(
          hint_loss(s_out[s], t_out[t], kind) for s, t in hints)}
      return out, new_vars
    return wrapped

  return wrap


def check_config(section) -> None:
  if not section.temperature > 0:
    raise ValueError(f'distillation temperature must be > 0, got '
                     f'{section.temperature}')
  if not 0.0 <= section.alpha <= 1.0:
    raise ValueError(f'distillation alpha must be in [0, 1], got '
                     f'{section.alpha}')
  if section.get('hint_loss', 'similarity') not in HINT_LOSSES:
    raise ValueError(f'Unknown distillation hint_loss '
                     f'{section.hint_loss!r}; known: {HINT_LOSSES}')


def teacher_logits(model, variables, images: np.ndarray,
                   batch_size: int = 2000) -> np.ndarray:
  fwd = jax.jit(lambda x: model.apply(variables, x, train=False))
  return np.concatenate([np.asarray(fwd(images[i:i + batch_size]))
                         for i in range(0, len(images), batch_size)])


def plugin_from_config(section, ctx: plugin_lib.Context) -> plugin_lib.Plugin:
  from jaxcompress import train  # train imports the strategies
  check_config(section)
  teacher, t_vars, _ = train.load_run(section.teacher_workdir)
  T, alpha = float(section.temperature), float(section.alpha)
  hints = tuple(tuple(h) for h in section.get('hints', ()))
  wrap = None
  if hints:
    wrap = _hint_apply(teacher, t_vars, hints,
                       float(section.get('hint_weight', 1.0)),
                       section.get('hint_loss', 'similarity'))
    # Names are checked now, before anything compiles.
    x = ctx.train_images[:2]
    wrap(ctx.model.apply)(ctx.variables, x, train=True,
                          mutable=['batch_stats'],
                          rngs={'dropout': jax.random.key(0)})

  if ctx.config.jitter_pixels or not ctx.config.in_memory:
    def loss_fn(logits, batch):
      t = teacher.apply(t_vars, batch['image'], train=False)
      return distillation_loss(logits, t, batch['label'], T, alpha)
    return plugin_lib.Plugin('distillation', loss_fn=loss_fn,
                             wrap_apply=wrap)

  def loss_fn(logits, batch):
    return distillation_loss(logits, batch['teacher_logits'], batch['label'],
                             T, alpha)

  return plugin_lib.Plugin(
      'distillation', loss_fn=loss_fn, wrap_apply=wrap,
      train_arrays={'teacher_logits': teacher_logits(teacher, t_vars,
                                                     ctx.train_images)})


def run(config: ml_collections.ConfigDict, workdir: str):
  """Trains `config.teacher` into workdir/teacher (or into
  `config.distillation.teacher_workdir` when set, a teacher several runs
  share), then the distilled student (the rest of `config`) into
  workdir/student. A finished teacher is reused."""
  from jaxcompress import train
  teacher_cfg = ml_collections.ConfigDict(config.to_dict())
  teacher_cfg.entry = 'jaxcompress.train:train_and_evaluate'
  del teacher_cfg['teacher']
  del teacher_cfg['distillation']
  teacher_cfg.update(config.teacher.to_dict())
  teacher_dir = (config.distillation.get('teacher_workdir')
                 or os.path.join(workdir, 'teacher'))
  if os.path.exists(os.path.join(teacher_dir, 'results.json')):
    with open(os.path.join(teacher_dir, 'results.json')) as f:
      teacher_results = json.load(f)
  else:
    _, teacher_results = train.train_and_evaluate(teacher_cfg, teacher_dir)
  student_cfg = ml_collections.ConfigDict(config.to_dict())
  del student_cfg['teacher']
  student_cfg.distillation.teacher_workdir = teacher_dir
  state, results = train.train_and_evaluate(student_cfg,
                                            os.path.join(workdir, 'student'))
  results['teacher_test_error'] = teacher_results['test_error']
  results['teacher_test_errors'] = teacher_results['test_errors']
  results['teacher_model'] = teacher_results['model']
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump(results, f, indent=1, default=str)
  return state, results
