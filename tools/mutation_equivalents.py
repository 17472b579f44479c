"""Surviving mutants that change no behaviour, and why.

Each entry names a core file, the mutated line as it was (`old`) and as the
mutant has it (`new`), both stripped of indentation, and the reason no test
can tell them apart. `mutation_report` marks matching survivors equivalent.
"""

EQUIVALENT: list[dict[str, str]] = [
]
