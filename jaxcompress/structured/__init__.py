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
* `plugin_from_config` (config.py): the `config.structured` entry point.
"""

from jaxcompress.structured.config import check_config
from jaxcompress.structured.config import default_section
from jaxcompress.structured.config import plugin_from_config
from jaxcompress.structured.config import shrink_report
from jaxcompress.structured.graph import Graph
from jaxcompress.structured.graph import Group
from jaxcompress.structured.graph import Member
from jaxcompress.structured.graph import trace_groups
from jaxcompress.structured.removal import kept_units
from jaxcompress.structured.removal import mask_variables
from jaxcompress.structured.removal import shrink
from jaxcompress.structured.removal import tie_groups
from jaxcompress.structured.removal import width_attributes
from jaxcompress.structured.scores import activation
from jaxcompress.structured.scores import bn_scale
from jaxcompress.structured.scores import make_score
from jaxcompress.structured.scores import taylor
from jaxcompress.structured.scores import weight_norm
from jaxcompress.structured.slimming import bn_scale_penalty
from jaxcompress.structured.stats import activation_stats
from jaxcompress.structured.stats import taylor_scores
from jaxcompress.structured.transform import StructuredMaskState
from jaxcompress.structured.transform import apply_unit_masks
from jaxcompress.structured.transform import find_state
from jaxcompress.structured.transform import group_targets
from jaxcompress.structured.transform import structured_mask
