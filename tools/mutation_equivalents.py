"""Surviving mutants that change no behaviour, and why.

Each entry names a core file, the mutated line as it was (`old`) and as the
mutant has it (`new`), both stripped of indentation, and the reason no test
can tell them apart. `mutation_report` marks matching survivors equivalent.
"""

EQUIVALENT: list[dict[str, str]] = [
    dict(file='jaxcompress/quantization/integer.py',
         old='def spec_dict(specs: Any) -> dict[str, QuantSpec | None]:',
         new='def spec_dict(specs: Any) -> dict[str, QuantSpec & None]:',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/pruning/distributions.py',
         old='return LayerSpec(0.0, 0, quality=float(value))',
         new='return LayerSpec(0.0, -1, quality=float(value))',
         why="for Han's std rule the layer's count is never read: its mask "
         'comes from the quality threshold (`transform`), and the summary '
         'gives such a layer no target count.'),
    dict(file='jaxcompress/structured/transform.py',
         old='k = jnp.clip(k, 1, jnp.min(alive))',
         new='k = jnp.clip(k, 0, jnp.min(alive))',
         why='the lower bound never binds: every group keeps at least one '
         'unit before the tie (global: its best unit is forced in; uniform: '
         'targets are checked to leave units), so the mean count is >= 1.'),
    dict(file='jaxcompress/train/step.py',
         old='shuffle_key = jax.random.key(seed + 1)',
         new='shuffle_key = jax.random.key(seed + 0)',
         why="not a behaviour change but an arbitrary constant: the offset "
         "only selects which key a seed's epoch permutations come from; "
         'every offset gives reproducible permutations that visit each '
         'example once per epoch (tested), so only a test pinning one exact '
         'data order (a test of the constant) could tell.'),
    dict(file='jaxcompress/quantization/apply.py',
         old='default: QuantSpec | None = None) -> dict[str, QuantSpec]:',
         new='default: QuantSpec & None = None) -> dict[str, QuantSpec]:',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/quantization/report.py',
         old='preserve_sparsity: bool = False',
         new='preserve_sparsity: bool = True',
         why='zero is exactly representable on every grid the library builds '
         '(`scale_zero_point` widens ranges to include 0; zero points are '
         'integers), so a zero weight quantizes to zero either way; the flag '
         'only guarantees it for grids given from outside.'),
    dict(file='jaxcompress/quantization/report.py',
         old='x1 = np.asarray(train_images[:1])',
         new='x1 = np.asarray(train_images[: 0])',
         why='`x1` only lets `fold_batch_norm` trace which layer feeds which '
         'batch norm; an empty batch traces the same layers and shapes.'),
    dict(file='jaxcompress/quantization/apply.py',
         old='qparams: Mapping[str, tuple[Any, Any]] | None = None',
         new='qparams: Mapping[str, tuple[Any, Any]] & None = None',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/pruning/transform.py',
         old='score_fn: scores_lib.Score | scores_lib.ScoreFn | None = None,',
         new='score_fn: scores_lib.Score & scores_lib.ScoreFn | None = None,',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/pruning/transform.py',
         old='schedule: schedules_lib.Schedule | None = None, *,',
         new='schedule: schedules_lib.Schedule & None = None, *,',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/distill.py',
         old='batch_size: int = 2000) -> np.ndarray:',
         new='batch_size: int = 2001) -> np.ndarray:',
         why="the batch size of `teacher_logits`' inference loop: each "
         "image's logits are computed in eval mode, independently of the "
         'others in its batch, and concatenated in order.'),
    dict(file='jaxcompress/structured/stats.py',
         old='groups: list[str] | None = None,',
         new='groups: list[str] & None = None,',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/pruning/distributions.py',
         old='masks_lib.check_nm((m,), n, m, -1)  # validates N and M alone',
         new='masks_lib.check_nm((m,), n, m, - 0)  # validates N and M alone',
         why='the shape checked is 1-D, `(m,)`, where axes -1 and 0 are the '
         'same axis.'),
    dict(file='jaxcompress/pruning/masks.py',
         old='return [e & (need > 0) for e in eq]',
         new='return [e & (need > -1) for e in eq]',
         why='`keep_all_ties` runs only when num_eq <= need; if need <= 0 '
         'then num_eq is 0 and every tie mask `e` is already all False, so '
         'the factor changes nothing (need is never negative either).'),
    dict(file='jaxcompress/quantization/storage.py',
         old='model_kwargs: dict | None = None) -> int:',
         new='model_kwargs: dict & None = None) -> int:',
         why='a type annotation; with `from __future__ import annotations` '
         'it is never evaluated.'),
    dict(file='jaxcompress/metrics.py',
         old='batch_sizes=(1, 1024), repeats: int = 20) -> dict:',
         new='batch_sizes=(1, 1024), repeats: int = 21) -> dict:',
         why='the default number of timed repeats of `latency_ms`, whose '
         'result is a median wall time: 20 or 21 repeats differ only by '
         'timing noise.'),
    dict(file='jaxcompress/quantization/qat.py',
         old='return qz.lsq_fake_quant(w, jnp.abs(step) + 1e-12, spec)',
         new='return qz.lsq_fake_quant(w, jnp.abs(step) - 1e-12, spec)',
         why='the LSQ grid is symmetric with round-half-even, so '
         '`s clip(round(w/s))` is the same for s and -s (step 0 gives the '
         'same output either way, and d|step|/dstep = 0 there); for steps '
         '>= 3e-5 (LSQ starts at 2 mean|w| / sqrt(qmax), ~1e-2) 1e-12 is '
         'below half a float32 ulp of the step, so both add nothing. Only '
         'steps in (0, 3e-5) would move by 2e-12.'),
    dict(file='jaxcompress/structured/graph.py',
         old='size = values.shape[0] // (self.inner * self.outer)',
         new='size = values.shape[ -1] // (self.inner * self.outer)',
         why='`Member.fold` sums a vector (its contract): for a 1-D array '
         'shape[0] is shape[-1].'),
]
