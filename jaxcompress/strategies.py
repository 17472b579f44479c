"""From config sections to plugins.

Each compression strategy owns a config section and a package with
`plugin_from_config(section, ctx) -> Plugin | list[Plugin]`. Packages are
imported only when their section is present, so a plain run loads none.
"""

from __future__ import annotations

import importlib

from jaxcompress import plugin as plugin_lib

# config section -> package providing plugin_from_config
SECTIONS = {
    'pruning': 'jaxcompress.pruning',
    'structured': 'jaxcompress.structured',
    'quantization': 'jaxcompress.quantization',
    'distillation': 'jaxcompress.distill',
    'deep_compression': 'jaxcompress.deep_compression',
}


def _sections(config):
  return [(name, config[name]) for name in SECTIONS
          if name in config and config[name] is not None]


def check(config) -> None:
  """Lets each present strategy validate its section before anything runs."""
  for name, section in _sections(config):
    module = importlib.import_module(SECTIONS[name])
    if hasattr(module, 'check_config'):
      module.check_config(section)


def build(config, ctx: plugin_lib.Context) -> list[plugin_lib.Plugin]:
  """The plugins for every compression section present in `config`."""
  plugins = []
  for name, section in _sections(config):
    built = importlib.import_module(SECTIONS[name]).plugin_from_config(
        section, ctx)
    plugins.extend(built if isinstance(built, (list, tuple)) else [built])
  return plugins
