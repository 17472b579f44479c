"""The `deep_compression` section: after training, write the weight-shared,
entropy-coded file and evaluate the model decoded from it.

Fields: rules ((regex, bits), ...) choosing the shared kernels (bits 1..8,
None leaves a parameter float32).

Adds to results.json: compressed_file_bytes, compression_ratio (over the
float32 model.msgpack of the same model), compressed_test_error (of the
decoded file) and float_test_error (before weight sharing).
"""

from __future__ import annotations

import dataclasses
import os
import tempfile

import jax

from jaxcompress import deep_compression as dc
from jaxcompress import metrics
from jaxcompress.plugins import interface
from jaxcompress.plugins import sections as S
from jaxcompress.rules import apply_rules


@dataclasses.dataclass(frozen=True)
class DeepCompressionSection:
  """The `deep_compression` section (see the module docstring)."""
  rules: tuple = (('kernel', 5),)

  def __post_init__(self):
    def bits_ok(v, what):
      if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 8:
        raise ValueError(f'{what} must be bits in 1..8 (or None), got {v!r}')
    S.check_rules(self.rules, 'rules', bits_ok)


def build(sec: DeepCompressionSection, ctx: interface.Context
          ) -> interface.Plugin:
  rules = list(sec.rules)
  apply_rules(ctx.variables['params'], rules)  # unknown patterns fail now

  def report(state, ctx):
    variables = jax.device_get(state.variables())
    folder = ctx.workdir or tempfile.mkdtemp()
    path = os.path.join(folder, 'model.deepcompressed')
    n = dc.save(variables['params'], rules, path)
    decoded = dict(variables, params=dc.load(path, variables['params']))
    float_bytes = metrics.save_variables(
        variables, os.path.join(folder, 'model.msgpack'))
    return {
        'compressed_file_bytes': n,
        'compression_ratio': float_bytes / n,
        'compressed_test_error': ctx.evaluate(decoded)['error'],
        'float_test_error': ctx.evaluate(variables)['error'],
    }

  return interface.Plugin('deep_compression', report=report)
