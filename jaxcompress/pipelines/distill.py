"""Teacher, then student: a two-stage distillation pipeline.

Stage 'teacher' trains the model of the `teacher` settings (the top-level
settings with the `teacher` overrides) into workdir/teacher, or into
`distillation.teacher_workdir` when set (a teacher several students share;
a finished one is reused). Stage 'student' trains the rest of the config
with the `distillation` section, the teacher handed over in memory.
"""

from __future__ import annotations

from jaxcompress.pipelines import stage as stage_lib
from jaxcompress.plugins import registry


def run(parsed: registry.ParsedConfig, workdir: str | None):
  """Runs both stages; returns the student's state and results (with the
  teacher's test error)."""
  if parsed.teacher is None:
    raise ValueError('the teacher_student pipeline needs a teacher section '
                     '(overrides of the top-level settings)')
  if 'distillation' not in parsed.sections:
    raise ValueError('the teacher_student pipeline needs a distillation '
                     'section')
  with stage_lib.Pipeline(parsed, workdir, ['teacher', 'student']) as pipe:
    if pipe.finished:
      return None, pipe.results()
    teacher_cfg = registry.ParsedConfig(parsed.teacher)
    shared = parsed.sections['distillation'].teacher_workdir
    t = pipe.stage('teacher', teacher_cfg, workdir=shared or None)
    student_cfg = parsed.replace(teacher=None)
    s = pipe.stage('student', student_cfg, inputs={
        'distillation': {'teacher': (t.model, t.variables)}})
    results = dict(s.results)
    results['teacher_test_error'] = t.results['test_error']
    results['teacher_test_errors'] = t.results['test_errors']
    results['teacher_model'] = t.results['model']
    return s.state, pipe.finish(results)
