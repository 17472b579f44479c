"""Knowledge distillation (Hinton, Vinyals & Dean 2015).

The student minimises

  alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, y)

where t and s are teacher and student logits and T the temperature; the T^2
keeps the soft-target gradients on the scale of the hard-target ones.

`distillation_loss` is the loss, `teacher_logits` precomputes a frozen
teacher's logits for a whole dataset, and `hint_apply` wraps a student's
apply function so that its training forward pass also returns the hint term
below. How a run gets its teacher (a finished run, or the previous stage of
a pipeline) is the business of `jaxcompress.plugins.distillation`.

Feature (hint) distillation adds, for named pairs of intermediate layers,

  hint_weight * || G(student features) - G(teacher features) ||_F^2 / b^2

with G the row-normalized batch similarity matrix h h^T of a layer's outputs
(similarity-preserving distillation, Tung & Mori 2019: it compares layers of
any widths without a learned regressor), or with `hint_loss='mse'` the mean
squared difference of equally wide features (FitNets' hint without the
regressor, Romero et al. 2015). The teacher then runs inside the jitted step;
the hint term reaches the train loss through the `losses` collection
(`jaxcompress.plugin`).
"""

from __future__ import annotations

import flax.traverse_util
import jax
import jax.numpy as jnp
import numpy as np
import optax


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


def hint_apply(teacher, t_vars, hints, weight: float, kind: str):
  """A `wrap_apply` that, in training, adds the hint term to the `losses`
  collection, matching the named (student, teacher) layers' outputs."""
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


def teacher_logits(model, variables, images: np.ndarray,
                   batch_size: int = 2000) -> np.ndarray:
  """The frozen teacher's logits for every image, in batches."""
  fwd = jax.jit(lambda x: model.apply(variables, x, train=False))
  return np.concatenate([np.asarray(fwd(images[i:i + batch_size]))
                         for i in range(0, len(images), batch_size)])
