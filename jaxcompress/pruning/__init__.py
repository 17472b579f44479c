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

from jaxcompress.pruning.config import check_config
from jaxcompress.pruning.config import plugin_from_config
from jaxcompress.pruning.constrained import group_lasso_penalty
from jaxcompress.pruning.constrained import l1_penalty
from jaxcompress.pruning.constrained import projection
from jaxcompress.pruning.distributions import LayerSpec
from jaxcompress.pruning.distributions import layer_specs
from jaxcompress.pruning.masks import nm_mask
from jaxcompress.pruning.masks import topk_mask
from jaxcompress.pruning.masks import topk_masks
from jaxcompress.pruning.schedules import EveryStep
from jaxcompress.pruning.schedules import Iterative
from jaxcompress.pruning.schedules import Never
from jaxcompress.pruning.schedules import OneShot
from jaxcompress.pruning.schedules import Polynomial
from jaxcompress.pruning.scores import magnitude
from jaxcompress.pruning.scores import random
from jaxcompress.pruning.scores import saliency
from jaxcompress.pruning.scores import snip
from jaxcompress.pruning.summary import format_summary
from jaxcompress.pruning.summary import sparsity_summary
from jaxcompress.pruning.transform import PruneState
from jaxcompress.pruning.transform import apply_masks
from jaxcompress.pruning.transform import compute_masks
from jaxcompress.pruning.transform import find_state
from jaxcompress.pruning.transform import prune
