"""Structured pruning that physically shrinks the network.

Public API:
  trace_groups: coupled channel groups found by tracing the model (jaxpr).
  shrink / mask_variables / kept_units / tie_groups: physical removal.
"""

from jaxcompress.structured.graph import Graph, Group, Member, trace_groups
from jaxcompress.structured.removal import (kept_units, mask_variables, shrink,
                                           tie_groups, width_attributes)

__all__ = [
    'Graph', 'Group', 'Member', 'trace_groups', 'kept_units',
    'mask_variables', 'shrink', 'tie_groups', 'width_attributes',
]
