"""The two pieces both budgets of the `auto` pipeline share.

`finetune_config` is the run that trains a plan (pruning + QAT, or
structured pruning then the shrunk model; distilled from the baseline when
`auto.distill`), built once without a plan before anything trains, so that
every setting of it is checked first. `measured_table` measures the
sensitivity table, or takes it from `auto.table_cache`. `trained_weights`
gives the weights the fine-tuning computed with, which the file stores.
"""

from __future__ import annotations

import hashlib
import json
import os

import jax
import numpy as np

from jaxcompress import auto, files
from jaxcompress import quantization as Q
from jaxcompress.plugins import quantization as qplugin
from jaxcompress.plugins import registry
from jaxcompress.plugins.distillation import DistillationSection
from jaxcompress.plugins.pruning import PruningSection
from jaxcompress.plugins.quantization import QuantizationSection
from jaxcompress.plugins.settings import resolve_steps
from jaxcompress.plugins.structured import StructuredSection
from jaxcompress.rules import named_leaves


def finetune_config(parsed, num_train: int, plan: auto.Plan | None = None,
                    base_dir: str = '', fit: bool = False
                    ) -> registry.ParsedConfig:
  """The fine-tuning run of `plan` (rules left empty without a plan, to
  check every setting before the baseline trains).

  bytes: gradual magnitude pruning (cubic, from step 0 to `prune_end` of
  the run) + QAT on per-tensor grids, zeros kept; flops: structured pruning
  on the same schedule, then `shrunk_epochs` of the shrunk model. Both
  distilled from the baseline when `auto.distill` (a teacher handed over in
  memory, or read from `base_dir` by the structured pipeline), or from the
  run in `auto.teacher_workdir`. With `fit`,
  the short retraining after a file came out over budget: `fit_epochs`,
  the plan's masks set at the first step.
  """
  s, sec = parsed.settings, parsed.stages['auto']
  ft = s.replace(num_epochs=sec.fit_epochs if fit else sec.finetune_epochs,
                 num_train_steps=-1, init_from='',
                 learning_rate=sec.finetune_learning_rate or s.learning_rate)
  total, spe, _ = resolve_steps(ft, num_train)
  end = max(1, int(round(sec.prune_end * total)))
  schedule = (dict(schedule='one_shot', step=0.0) if fit else
              dict(schedule='polynomial', units='steps', begin=0.0,
                   end=float(end), every=float(max(1, end // 30)),
                   power=3.0))
  if sec.budget == 'bytes':
    sections = {'pruning': PruningSection(
        score='magnitude', sparsity=0.0,
        rules=plan.pruning_rules() if plan else (), **schedule)}
    if plan is None or plan.quantization_rules():
      sections['quantization'] = QuantizationSection(
          weight_bits=0, per_channel=False, preserve_sparsity=True,
          weight_rules=plan.quantization_rules() if plan else (),
          save_files=False, quantizer=sec.quantizer)
  else:
    sections = {'structured': StructuredSection(
        score='l2', sparsity=0.0, inputs=sec.inputs,
        rules=plan.structured_rules() if plan else (),
        finetune_epochs=sec.shrunk_epochs, **schedule)}
    ft = ft.replace(init_from=base_dir, pipeline='prune_shrink_finetune')
  if sec.distill:
    sections['distillation'] = DistillationSection(
        teacher_workdir=sec.teacher_workdir or (
            '' if sec.budget == 'bytes' else base_dir),
        temperature=sec.temperature, alpha=sec.alpha)
  out = parsed.replace(sections=sections, stages={}, teacher=None,
                       settings=ft)
  registry.check_against_run(out, total, spe)
  return out


def measured_table(parsed, workdir: str, variables, what, measure,
                   log) -> auto.Table:
  """The sensitivity table (from `auto.table_cache` when it holds one of
  the same model, validation split and options), also written to
  workdir/sensitivity.json."""
  s, sec = parsed.settings, parsed.stages['auto']
  key = hashlib.sha256(json.dumps([
      files.digest_arrays(named_leaves(variables)), s.dataset, s.train_subset,
      s.validation_examples, s.eval_batch_size, sec.budget, sec.symmetric,
      sec.inputs, sec.widths, repr(what)], default=str).encode()).hexdigest()
  cached = (os.path.join(sec.table_cache, f'{key[:24]}.json')
            if sec.table_cache else None)
  if cached and os.path.exists(cached):
    log(f'auto: sensitivity table from {cached}')
    table = auto.Table.from_json(files.read_json(cached)['table'])
  else:
    table = measure()
    if cached:
      os.makedirs(sec.table_cache, exist_ok=True)
      files.write_json(cached, {'key': key, 'table': table.to_json()})
  files.write_json(os.path.join(workdir, 'sensitivity.json'),
                   table.to_json())
  return table


def trained_weights(ft_cfg: registry.ParsedConfig, params, aux):
  """The weights the fine-tuning computed with at its end: the quantization
  plugin's own `params_fn` (the trained grids, learned step sizes
  included; zeros kept), compiled as in the train step."""
  qsec = ft_cfg.sections.get('quantization')
  if qsec is None:
    return jax.tree.map(lambda w: np.asarray(w, np.float32), params)
  settings = qplugin.resolve(qsec, params)
  fn, _ = Q.qat_params_fn(settings, qplugin.QUANTIZERS[qsec.quantizer])
  out = jax.jit(fn)(params, (aux or {}).get('quantization'))
  return jax.tree.map(lambda w: np.asarray(w, np.float32), out)
