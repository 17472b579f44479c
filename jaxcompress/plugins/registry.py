"""From a config to plugins: the explicit table of sections.

`SECTIONS` maps every compression section to its dataclass, its builder
``(section, ctx) -> Plugin`` and an optional check against the run's length;
`STAGE_SECTIONS` lists the sections of multi-stage pipelines. A new strategy
is a module in `jaxcompress.plugins` and one line here.

`parse_config` reads a whole experiment config once: the top-level
`RunSettings`, every section present, every pipeline section, with unknown
keys and bad values named before any data is loaded or anything compiled.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from typing import Any, NamedTuple

from jaxcompress.plugins import (
    auto,
    deep_compression,
    distillation,
    interface,
    pruning,
    quantization,
    sections,
    stages,
    structured,
)
from jaxcompress.plugins.settings import RunSettings


class Section(NamedTuple):
  cls: type
  build: Callable[[Any, interface.Context], interface.Plugin]
  check_run: Callable[[Any, int, int], None] | None = None


# Order is the order of the optax chain after the optimizer.
SECTIONS: dict[str, Section] = {
    'pruning': Section(pruning.PruningSection, pruning.build,
                       pruning.check_run),
    'structured': Section(structured.StructuredSection, structured.build,
                          structured.check_run),
    'quantization': Section(quantization.QuantizationSection,
                            quantization.build),
    'distillation': Section(distillation.DistillationSection,
                            distillation.build),
    'deep_compression': Section(deep_compression.DeepCompressionSection,
                                deep_compression.build),
}

STAGE_SECTIONS: dict[str, type] = {
    'lottery': stages.LotterySection,
    'ptq': stages.PTQSection,
    'auto': auto.AutoSection,
}


@dataclasses.dataclass(frozen=True)
class ParsedConfig:
  """A whole experiment config, parsed.

  Attributes:
    settings: the top-level fields.
    sections: {name: parsed section} of the compression sections present,
      in `SECTIONS` order.
    stages: {name: parsed section} of the pipeline sections present.
    teacher: the teacher's settings of a teacher -> student pipeline.
  """
  settings: RunSettings
  sections: dict = dataclasses.field(default_factory=dict)
  stages: dict = dataclasses.field(default_factory=dict)
  teacher: RunSettings | None = None

  def replace(self, **changes) -> ParsedConfig:
    return dataclasses.replace(self, **changes)

  def with_settings(self, **changes) -> ParsedConfig:
    return self.replace(settings=self.settings.replace(**changes))


def default_section(name: str):
  """A ConfigDict of section `name` with every field at its default, for
  config files (so `--config.<name>.<field>=...` works on the command line).
  """
  import ml_collections
  cls = SECTIONS[name].cls if name in SECTIONS else STAGE_SECTIONS[name]
  return ml_collections.ConfigDict(sections.as_dict(cls()))


def parse_config(config: Any) -> ParsedConfig:
  """Parses a ConfigDict (or dict) into a `ParsedConfig`; a ParsedConfig
  is returned as it is.

  Raises:
    ValueError: naming the first bad field.
  """
  if isinstance(config, ParsedConfig):
    return config
  raw = sections.to_plain(config)
  if 'entry' in raw:
    raise ValueError("config.entry is gone: name the pipeline with "
                     "config.pipeline ('train', 'lottery', 'ptq', "
                     "'prune_shrink_finetune', 'teacher_student')")
  top = {k: v for k, v in raw.items()
         if k not in SECTIONS and k not in STAGE_SECTIONS and k != 'teacher'}
  settings = sections.parse(RunSettings, top, 'config')
  secs = {name: sections.parse(s.cls, raw[name], name)
          for name, s in SECTIONS.items() if raw.get(name) is not None}
  stage = {name: sections.parse(cls, raw[name], name)
           for name, cls in STAGE_SECTIONS.items()
           if raw.get(name) is not None}
  teacher = None
  if raw.get('teacher') is not None:
    teacher = sections.parse(
        RunSettings, dict(top, **sections.to_plain(raw['teacher'])),
        'teacher')
  if 'ptq' in stage:
    base = secs.get('quantization') or quantization.QuantizationSection()
    stage['ptq'].variant_sections(base, 'variants')
    stage['ptq'].variant_sections(base, 'qat')
  return ParsedConfig(settings, secs, stage, teacher)


def resolved(parsed: ParsedConfig) -> dict:
  """The config with every default filled in, as plain JSON-able data."""
  out = sections.as_dict(parsed.settings)
  for name, sec in {**parsed.sections, **parsed.stages}.items():
    out[name] = sections.as_dict(sec)
  if parsed.teacher is not None:
    out['teacher'] = sections.as_dict(parsed.teacher)
  return out


def _defaults(cls) -> dict:
  return sections.as_dict(cls())


def identity(resolved_config: dict) -> dict:
  """A resolved config without the fields at their defaults.

  What identifies a run: two configs that differ only by fields added
  later, at their default values, are the same run.
  """
  out = {}
  top = _defaults(RunSettings)
  for key, value in resolved_config.items():
    cls = (SECTIONS[key].cls if key in SECTIONS else STAGE_SECTIONS.get(key)
           or (RunSettings if key == 'teacher' else None))
    if cls is not None and isinstance(value, dict):
      d = _defaults(cls)
      out[key] = {k: v for k, v in value.items()
                  if k not in d or not _same(d[k], v)}
    elif key not in top or not _same(top[key], value):
      out[key] = value
  return out


def differences(old: dict, new: dict, ignore=()) -> list[str]:
  """'field: old -> new' for each identity field two resolved configs
  disagree on; a field missing from `old` (recorded before the field
  existed) counts as its default."""
  a, b = identity(old), identity(new)
  full_old = resolved(ParsedConfig(RunSettings()))
  out = []

  def value(conf, full, key, sub=None):
    if sub is None:
      return conf.get(key, full.get(key, '<absent>'))
    section = conf.get(key)
    if section is None:
      return '<no section>'
    cls = SECTIONS[key].cls if key in SECTIONS else STAGE_SECTIONS.get(
        key, RunSettings)
    return section.get(sub, _defaults(cls).get(sub, '<absent>'))

  for key in sorted(set(a) | set(b)):
    if key in ignore:
      continue
    va, vb = a.get(key, {}), b.get(key, {})
    if isinstance(va, dict) and isinstance(vb, dict) and (
        key in SECTIONS or key in STAGE_SECTIONS or key == 'teacher'):
      if (key in old) != (key in new):
        out.append(f'{key}: {"present" if key in old else "absent"} -> '
                   f'{"present" if key in new else "absent"}')
        continue
      for sub in sorted(set(va) | set(vb)):
        if not _same(va.get(sub), vb.get(sub)):
          out.append(f'{key}.{sub}: {value(old, {}, key, sub)!r} -> '
                     f'{value(new, {}, key, sub)!r}')
    elif not _same(va, vb):
      out.append(f'{key}: {value(old, full_old, key)!r} -> '
                 f'{value(new, full_old, key)!r}')
  return out


def _same(a, b) -> bool:
  """Equal as JSON (tuples and lists alike, as a run.json reads back)."""
  dump = lambda x: json.dumps(x, sort_keys=True, default=str)
  return dump(a) == dump(b)


def check_against_run(parsed: ParsedConfig, num_steps: int,
                      steps_per_epoch: int) -> None:
  """Section checks that need the run's length (schedules that would not
  reach their target)."""
  for name, sec in parsed.sections.items():
    check = SECTIONS[name].check_run
    if check is not None:
      check(sec, num_steps, steps_per_epoch)


def build(parsed: ParsedConfig, ctx: interface.Context
          ) -> list[interface.Plugin]:
  """The plugins of every compression section present."""
  return [SECTIONS[name].build(sec, ctx)
          for name, sec in parsed.sections.items()]
