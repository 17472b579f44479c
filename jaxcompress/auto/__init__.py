"""Adaptive compression: measure, allocate under a budget, plan.

Given a trained model, a budget and a validation split held out from the
training set, choose every layer's compression so as to lose the least:

  table       `Option` (sparsity, bits / clusters, kept width) and `Table`
              (the measured loss increase and cost of every option)
  sensitivity `measure_unstructured` (sparsity x bits, cost in file bytes),
              `measure_widths` (structured widths), one layer at a time
  flops       `FlopsModel`: FLOPs per example of the groups' widths
  latency     `LatencyModel`: batch-1 ms of the widths, fitted to measured
              files; `plan_by_measurement` plans and measures until the
              plan's file fits a latency budget
  allocate    exact solvers: `knapsack` (additive costs), `exhaustive`
              (any cost of all choices), and the `uniform` baseline
  plan        `Plan`, `make_plan`, the plan as pruning / quantization /
              weight-sharing / structured rules
  fit         `save_within`: the plan's file, trimmed to its budget
  uniform_fill `measure_uniform`: the uniform baseline's options, one
              sparsity and bits for every layer, filling the budget

The pipeline that trains a plan and writes its file is
`jaxcompress.pipelines.auto` (config section `auto`).
"""

from jaxcompress.auto.allocate import (
    InfeasibleBudget,
    exhaustive,
    knapsack,
    uniform,
)
from jaxcompress.auto.fit import drop_smallest, extra_pruning, save_within
from jaxcompress.auto.flops import FlopsModel
from jaxcompress.auto.latency import (
    LatencyModel,
    plan_by_measurement,
    sample_widths,
)
from jaxcompress.auto.plan import (
    ALLOCATIONS,
    LayerChoice,
    Plan,
    make_plan,
)
from jaxcompress.auto.sensitivity import (
    compress_kernel,
    file_bits,
    grid_spec,
    mask_widths,
    measure_unstructured,
    measure_widths,
    prune_kernel,
    unstructured_options,
)
from jaxcompress.auto.table import Option, Table
from jaxcompress.auto.uniform_fill import fill_sparsity, measure_uniform

__all__ = [
    'ALLOCATIONS', 'FlopsModel', 'InfeasibleBudget', 'LatencyModel',
    'LayerChoice', 'Option', 'Plan', 'Table', 'compress_kernel',
    'drop_smallest', 'exhaustive', 'extra_pruning', 'file_bits',
    'fill_sparsity', 'grid_spec', 'knapsack', 'make_plan', 'mask_widths',
    'measure_uniform', 'measure_unstructured', 'measure_widths',
    'plan_by_measurement', 'prune_kernel', 'sample_widths', 'save_within',
    'uniform', 'unstructured_options',
]
