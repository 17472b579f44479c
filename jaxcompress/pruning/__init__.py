"""Unstructured and N:M pruning as optax transformations.

Four independent pieces, combined freely:

* scores (`magnitude`, `random`, `saliency`, `snip`, `movement`; a `Score`
  may keep state and learn from the raw gradients),
* mask types and per-layer targets (`layer_specs`: unstructured or N:M;
  uniform, global, ERK, Han's std rule; `(regex, sparsity)` overrides),
* schedules (`OneShot`, `Iterative`, `Polynomial`, `EveryStep`, `Never`),
* the transformation `prune` that applies them inside any optax chain.

Plus sparsity-constrained training (`projection`, `l1_penalty`,
`group_lasso_penalty`), the report (`sparsity_summary`) and the masks of
lottery-ticket rounds (`lottery_masks`).
"""

from jaxcompress.pruning.constrained import (
    group_lasso_penalty,
    l1_penalty,
    projection,
)
from jaxcompress.pruning.distributions import LayerSpec, layer_specs
from jaxcompress.pruning.lottery import lottery_masks
from jaxcompress.pruning.masks import nm_mask, topk_mask, topk_masks
from jaxcompress.pruning.movement import movement
from jaxcompress.pruning.schedules import (
    EveryStep,
    Iterative,
    Never,
    OneShot,
    Polynomial,
    Schedule,
)
from jaxcompress.pruning.scores import (
    Score,
    as_score,
    magnitude,
    random,
    saliency,
    snip,
    stateless,
)
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
    'PruneState', 'Schedule', 'Score', 'apply_masks', 'as_score',
    'compute_masks', 'find_state', 'format_summary', 'group_lasso_penalty',
    'l1_penalty', 'layer_specs', 'lottery_masks', 'magnitude', 'movement',
    'nm_mask', 'projection', 'prune', 'random', 'saliency', 'snip',
    'sparsity_summary', 'stateless', 'topk_mask', 'topk_masks',
]
