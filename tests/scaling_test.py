"""The HLO collective parser of benchmarks/scaling.py on hand-written HLO."""

import importlib.util
import os

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'benchmarks', 'scaling.py')
_spec = importlib.util.spec_from_file_location('scaling_benchmark', _PATH)
scaling = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scaling)

HLO = """
  %p = f32[8,16]{1,0} parameter(0)
  %a = f32[64]{0} parameter(1)
  %ar = (f32[64]{0}, bf16[2,3]{1,0}) all-reduce(%a, %b), channel_id=2, replica_groups=mesh['axis_0'=8] {'axis_0'}, to_apply=%add, metadata={op_name="jit(f)/x"}
  %ag = f32[8,128]{1,0} all-gather(%p), dimensions={1}
  ROOT %rs = f32[1,16]{1,0} reduce-scatter(%p), dimensions={0}, to_apply=%add
"""


def test_shape_bytes():
  assert scaling.shape_bytes('(f32[2,3]{1,0}, s32[], bf16[5])') == 24 + 4 + 10


def test_collectives_counts_full_buffers():
  got = scaling.collectives(HLO)
  assert got['all-reduce'] == [1, 64 * 4 + 6 * 2]  # tuple result, summed
  assert got['all-gather'] == [1, 8 * 128 * 4]  # the gathered result
  assert got['reduce-scatter'] == [1, 8 * 16 * 4]  # the operand, by name
  assert got['all-to-all'] == got['collective-permute'] == [0, 0]


def test_async_collectives_are_refused():
  with pytest.raises(ValueError, match='async'):
    scaling.collectives('  %s = f32[4]{0} all-gather-start(%p)\n')
