"""Unstructured and N:M pruning as optax transformations.

Four independent pieces, combined freely:

* scores (`magnitude`, `random`, `saliency`, `snip`),
* mask types and per-layer targets (`layer_specs`: unstructured or N:M;
  uniform, global, ERK, Han's std rule; `(regex, sparsity)` overrides),
* schedules (`OneShot`, `Iterative`, `Polynomial`, `EveryStep`, `Never`),
* the transformation `prune` that applies them inside any optax chain.

Plus sparsity-constrained training (`projection`, `l1_penalty`,
`group_lasso_penalty`), the report (`sparsity_summary`), the config entry
point `plugin_from_config`, and lottery-ticket rounds (`lottery.run`).
"""

from jaxcompress.pruning.config import check_config, plugin_from_config
from jaxcompress.pruning.constrained import (
    group_lasso_penalty,
    l1_penalty,
    projection,
)
from jaxcompress.pruning.distributions import LayerSpec, layer_specs
from jaxcompress.pruning.masks import nm_mask, topk_mask, topk_masks
from jaxcompress.pruning.schedules import (
    EveryStep,
    Iterative,
    Never,
    OneShot,
    Polynomial,
)
from jaxcompress.pruning.scores import magnitude, random, saliency, snip
from jaxcompress.pruning.summary import format_summary, sparsity_summary
from jaxcompress.pruning.transform import (
    PruneState,
    apply_masks,
    compute_masks,
    find_state,
    prune,
)

__all__ = [
    'EveryStep', 'Iterative', 'LayerSpec', 'Never', 'OneShot', 'Polynomial',
    'PruneState', 'apply_masks', 'check_config', 'compute_masks',
    'find_state', 'format_summary', 'group_lasso_penalty', 'l1_penalty',
    'layer_specs', 'magnitude', 'nm_mask', 'plugin_from_config', 'projection',
    'prune', 'random', 'saliency', 'snip', 'sparsity_summary', 'topk_mask',
    'topk_masks',
]
