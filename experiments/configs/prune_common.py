"""Shared pieces of the pruning experiment configs (not an experiment)."""

import ml_collections

from jaxcompress.pruning import config as pruning_config


def section(**fields) -> ml_collections.ConfigDict:
  """A `config.pruning` section: defaults with `fields` overridden."""
  s = pruning_config.default_section()
  for k, v in fields.items():
    s[k] = v
  return s
