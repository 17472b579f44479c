"""Structured pruning that physically shrinks the network.

Pieces (each a small module):

* `trace_groups` (graph.py): groups of coupled channels found by tracing the
  model's jaxpr: Dense/Conv outputs, the batch norms after them, the input
  rows of the next layers (with flatten tilings), residual additions.
* `activation_stats`, `taylor_scores` (stats.py): per-unit statistics on real
  data by method interception (mean, mean |a|, APoZ; activation x gradient).
* scores (scores.py): `weight_norm` (L1/L2), `bn_scale`, `activation`,
  `taylor`, `make_score`.
* `structured_mask` (transform.py): the optax transformation; params are
  exactly masked after `optax.apply_updates`; schedules of
  `jaxcompress.pruning`, uniform or global distribution.
* `bn_scale_penalty` (slimming.py): network slimming's L1 on BN scales.
* `shrink` (removal.py): the smaller module and sliced variables.
"""

from jaxcompress.structured.graph import Graph, Group, Member, trace_groups
from jaxcompress.structured.removal import (
    kept_units,
    mask_variables,
    shrink,
    tie_groups,
    width_attributes,
)
from jaxcompress.structured.scores import (
    activation,
    bn_scale,
    make_score,
    taylor,
    weight_norm,
)
from jaxcompress.structured.slimming import bn_scale_penalty
from jaxcompress.structured.stats import activation_stats, taylor_scores
from jaxcompress.structured.transform import (
    StructuredMaskState,
    apply_unit_masks,
    find_state,
    group_targets,
    structured_mask,
)

__all__ = [
    'Graph', 'Group', 'Member', 'StructuredMaskState', 'activation',
    'activation_stats', 'apply_unit_masks', 'bn_scale', 'bn_scale_penalty',
    'find_state', 'group_targets', 'kept_units', 'make_score',
    'mask_variables', 'shrink', 'structured_mask', 'taylor', 'taylor_scores',
    'tie_groups', 'trace_groups', 'weight_norm', 'width_attributes',
]
