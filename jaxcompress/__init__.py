"""jaxcompress: make neural networks smaller and faster, in JAX.

The library (pure JAX functions and optax transformations over parameter
pytrees; no configs, no train loop):

  pruning           unstructured and N:M pruning: scores, schedules, masks
  structured        structured pruning and physical removal
  quantization      PTQ, QAT, integer inference, compact storage
  distill           knowledge distillation losses
  deep_compression  weight sharing + sparse indices + entropy coding
  auto              sensitivity tables, exact allocation under a budget,
                    compression plans

Its ground floor: `data` (tfds), `models` (the zoo), `rules` (parameters by
path), `metrics` (counts, FLOPs, latency), `optim`, `files` (atomic, checksummed),
`timing` (interleaved timing), `saved_runs` (reading finished runs).

Above it: `plugins` (config sections -> what a strategy adds to training),
`train` (the compiled step, the run store, the loop) and `pipelines`
(multi-stage runs and suites). The experiment binaries in experiments/ are
thin absl programs over `pipelines.run(config, workdir)`.
"""

from jaxcompress import (
    auto,
    data,
    deep_compression,
    distill,
    files,
    metrics,
    models,
    optim,
    pipelines,
    plugins,
    pruning,
    quantization,
    rules,
    saved_runs,
    structured,
    timing,
    train,
)

__version__ = '0.2.0'

__all__ = [
    '__version__', 'auto', 'data', 'deep_compression', 'distill', 'files', 'metrics',
    'models', 'optim', 'pipelines', 'plugins', 'pruning', 'quantization',
    'rules', 'saved_runs', 'structured', 'timing', 'train',
]
