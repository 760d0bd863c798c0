"""Student versions of the chapters, and the check that their exercises really fail.

An instructor runs::

    python -m ganlib.student notebooks/*.ipynb --out student/

Each exercise's solution, written between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, becomes ``raise NotImplementedError()`` (the lines before
the markers, such as the function's signature, stay); hidden checks between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are dropped; outputs are
cleared. These are nbgrader's markers, so the notebooks can also be fed to nbgrader.

``python -m ganlib.student --check notebooks/*.ipynb`` checks both directions:
the exercise section of the full notebook passes, and in the student version
every exercise's check cell (the code cell right after a solution) fails.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Tuple

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
EXERCISES_HEADING = re.compile(r"^#{1,3}\s+Exercises\b")


def _replace_blocks(source: str, begin: str, end: str, replacement) -> Tuple[str, int]:
    """Replace each ``begin ... end`` block of lines by ``replacement(indent)`` (a list of lines)."""
    out: List[str] = []
    inside, indent, count = False, "", 0
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise ValueError(f"line {number}: {begin!r} inside another {begin!r} block")
            inside, indent, count = True, line[: len(line) - len(line.lstrip())], count + 1
            out.extend(replacement(indent))
        elif stripped == end:
            if not inside:
                raise ValueError(f"line {number}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{begin!r} without a closing {end!r}")
    return "\n".join(out), count


def strip_source(source: str) -> str:
    """The student version of one cell's source."""
    source, _ = _replace_blocks(source, BEGIN_SOLUTION, END_SOLUTION,
                                lambda indent: [f"{indent}raise NotImplementedError()"])
    source, _ = _replace_blocks(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent: [])
    return source


def make_student(nb):
    """A student copy of the notebook ``nb`` (an ``nbformat`` notebook), outputs cleared."""
    student = copy.deepcopy(nb)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.source = strip_source(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return student


def _has_solution(cell) -> bool:
    return cell.cell_type == "code" and BEGIN_SOLUTION in cell.source


@dataclass
class Exercise:
    solution: int  # index of the solution cell
    check: int     # index of its check cell


@dataclass
class Plan:
    """Which cells the exercise check runs: setup (through the parameters cell) and the exercises."""
    setup: List[int]
    section: List[int]
    exercises: List[Exercise] = field(default_factory=list)


def plan(nb, name: str = "notebook") -> Plan:
    cells = nb.cells
    params = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        raise ValueError(f"{name}: needs exactly one cell tagged 'parameters', found {len(params)}")
    starts = [i for i, c in enumerate(cells)
              if c.cell_type == "markdown" and EXERCISES_HEADING.match(c.source.lstrip())]
    if len(starts) != 1:
        raise ValueError(f"{name}: needs exactly one markdown cell starting with '## Exercises', "
                         f"found {len(starts)}")
    start = starts[0]
    early = [i for i, c in enumerate(cells[:start]) if _has_solution(c)]
    if early:
        raise ValueError(f"{name}: solution markers in cells {early}, before the Exercises section; "
                         "move the exercise into the section so the student check runs it")
    code = [i for i in range(start, len(cells)) if cells[i].cell_type == "code"]
    p = Plan(setup=[i for i in range(params[0] + 1) if cells[i].cell_type == "code"], section=code)
    for k, i in enumerate(code):
        if _has_solution(cells[i]):
            if k + 1 >= len(code) or _has_solution(cells[code[k + 1]]):
                raise ValueError(f"{name}: the solution in cell {i} has no check cell after it")
            p.exercises.append(Exercise(solution=i, check=code[k + 1]))
    if not p.exercises:
        raise ValueError(f"{name}: the Exercises section has no solution markers")
    return p


def _run_cells(nb, indices: Sequence[int], workdir: Path, timeout: int = 300):
    """Execute the given code cells in order in one kernel; return ``{index: error or None}``."""
    import nbformat
    from nbclient import NotebookClient

    sub = nbformat.v4.new_notebook(metadata=nb.metadata)
    sub.cells = [copy.deepcopy(nb.cells[i]) for i in indices]
    client = NotebookClient(sub, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute()
    result = {}
    for i, cell in zip(indices, sub.cells):
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        result[i] = f"{errors[0]['ename']}: {errors[0]['evalue']}" if errors else None
    return result


def check(path: Path) -> List[str]:
    """Run the exercise section of the full and of the student notebook; return the problems."""
    import jupytext

    path = Path(path)
    nb = jupytext.read(path)
    p = plan(nb, path.name)
    cells = p.setup + p.section
    problems = []
    full = _run_cells(nb, cells, path.parent)
    for i, err in full.items():
        if err:
            problems.append(f"{path.name}: full notebook, cell {i} fails: {err}")
    student = _run_cells(make_student(nb), cells, path.parent)
    for ex in p.exercises:
        if student[ex.check] is None:
            problems.append(f"{path.name}: student version, the check in cell {ex.check} of the "
                            f"exercise in cell {ex.solution} passes without a solution")
    for i in p.setup:
        if student[i]:
            problems.append(f"{path.name}: student version, setup cell {i} fails: {student[i]}")
    return problems


def main(argv=None) -> int:
    import jupytext

    ap = argparse.ArgumentParser(prog="python -m ganlib.student", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path, help=".ipynb or paired .py chapters")
    ap.add_argument("--out", type=Path, default=Path("student"), help="folder for the student notebooks")
    ap.add_argument("--check", action="store_true", help="check both directions instead of writing")
    args = ap.parse_args(argv)
    if args.check:
        problems = [msg for nb in args.notebooks for msg in check(nb)]
        for msg in problems:
            print(msg)
        print("student check:", "FAILED" if problems else f"ok ({len(args.notebooks)} notebooks)")
        return 1 if problems else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for src in args.notebooks:
        nb = jupytext.read(src)
        n = len(plan(nb, src.name).exercises)
        dest = args.out / (src.stem + ".ipynb")
        jupytext.write(make_student(nb), dest, fmt="ipynb")
        print(f"{dest}: {n} exercises")
    return 0


if __name__ == "__main__":
    sys.exit(main())
