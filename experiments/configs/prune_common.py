"""Shared pieces of the pruning experiment configs (not an experiment)."""

import ml_collections

from jaxcompress.plugins import default_section


def section(**fields) -> ml_collections.ConfigDict:
  """A `config.pruning` section: defaults with `fields` overridden."""
  s = default_section('pruning')
  for k, v in fields.items():
    s[k] = v
  return s
