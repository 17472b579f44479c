"""Config sections -> plugins: the only code that reads a ConfigDict.

  interface   the `Plugin` a strategy gives the train step, its `Context`
  sections    parsing a section into a frozen dataclass (unknown keys
              rejected with a did-you-mean, types and ranges checked)
  settings    the top-level `RunSettings`
  registry    the explicit table of sections; `parse_config`, `build`
  pruning, structured, quantization, distillation, deep_compression
              one module per section: its dataclass and its builder
  stages      sections of multi-stage pipelines (lottery, ptq, teacher)
"""

from jaxcompress.plugins.interface import Context, Plugin
from jaxcompress.plugins.pruning import register_score
from jaxcompress.plugins.quantization import register_quantizer
from jaxcompress.plugins.registry import (
    SECTIONS,
    ParsedConfig,
    build,
    default_section,
    parse_config,
    resolved,
)
from jaxcompress.plugins.settings import RunSettings

__all__ = [
    'SECTIONS', 'Context', 'ParsedConfig', 'Plugin', 'RunSettings', 'build',
    'default_section', 'parse_config', 'register_quantizer', 'register_score', 'resolved',
]
