"""Student versions of the chapters, the check that their exercises catch wrong answers, and
nbgrader assignments.

An instructor runs::

    python -m ganlib.student notebooks/*.ipynb --out student/

Each exercise's solution, written between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, becomes ``raise NotImplementedError()`` (the lines before
the markers, such as the function's signature, stay); hidden checks between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` are dropped; outputs are
cleared. These are nbgrader's markers.

``python -m ganlib.student --nbgrader notebooks/*.py --out course/source/gan/`` writes the
notebooks with nbgrader's cell metadata, made from the markers: a solution cell gets
``solution: true``, the check cell after it ``grade: true``, ``locked: true`` and its points;
ids come from the exercise's function name, so they stay the same when cells move.
``--exercises-only`` keeps the setup, the parameters and the exercise section only.

``python -m ganlib.student --check notebooks/*.ipynb`` runs, in one kernel per chapter, the
setup and parameters cells, then the exercise section, where before each solution it tries:

- every wrong answer stored for that exercise in ``tests/exercises/NN_name.py`` (a dict
  ``WRONG = {function name: {what is wrong: body}}``, at least three per exercise, kept out of
  the notebooks): the *visible* check (hidden tests dropped) must fail with an
  ``AssertionError`` whose message names the mistake;
- the student version (``raise NotImplementedError()``): the check must fail;
- the solution itself: the check, hidden tests included, must pass.

A check keeps a student from calling ganlib's reference implementation with
:class:`forbid`, which makes the named functions raise while the check runs.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)
EXERCISES_HEADING = re.compile(r"^#{1,3}\s+Exercises\b")
MIN_WRONG_ANSWERS = 3
NBGRADER_SCHEMA = 3


class MarkerError(ValueError):
    """A solution or hidden-test marker out of place; the message names notebook, cell and line."""


def _where(name: str, cell: Optional[int], line: Optional[int] = None) -> str:
    parts = [name]
    if cell is not None:
        parts.append(f"cell {cell}")
    if line is not None:
        parts.append(f"line {line}")
    return ", ".join(parts)


def _replace_blocks(
    source: str, begin: str, end: str, replacement, name: str = "notebook", cell: Optional[int] = None
) -> Tuple[str, int]:
    """Replace each ``begin ... end`` block of lines by ``replacement(indent)`` (a list of lines).

    Raises :class:`MarkerError` naming ``name``, ``cell`` and the line (1-based, within the
    cell) of a nested, unclosed or unopened block.
    """
    out: List[str] = []
    inside, indent, count, opened = False, "", 0, 0
    for number, line in enumerate(source.splitlines(), 1):
        stripped = line.strip()
        if stripped == begin:
            if inside:
                raise MarkerError(
                    f"{_where(name, cell, number)}: {begin!r} inside another {begin!r} "
                    f"block (opened on line {opened}); close the first with {end!r}"
                )
            inside, opened = True, number
            indent, count = line[: len(line) - len(line.lstrip())], count + 1
            out.extend(replacement(indent))
        elif stripped == end:
            if not inside:
                raise MarkerError(f"{_where(name, cell, number)}: {end!r} without {begin!r}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{_where(name, cell, opened)}: {begin!r} without a closing {end!r}")
    return "\n".join(out), count


def strip_source(source: str, name: str = "notebook", cell: Optional[int] = None) -> str:
    """The student version of one cell's source."""
    source, _ = _replace_blocks(
        source, BEGIN_SOLUTION, END_SOLUTION, lambda indent: [f"{indent}raise NotImplementedError()"], name, cell
    )
    source, _ = _replace_blocks(source, BEGIN_HIDDEN, END_HIDDEN, lambda indent: [], name, cell)
    return source


def replace_solution(source: str, body: str, name: str = "notebook", cell: Optional[int] = None) -> str:
    """``source`` with the lines between the solution markers replaced by ``body`` (dedented
    text, re-indented to the markers' indentation)."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    new, count = _replace_blocks(
        source,
        BEGIN_SOLUTION,
        END_SOLUTION,
        lambda indent: [indent + line if line else line for line in lines],
        name,
        cell,
    )
    if count != 1:
        raise MarkerError(f"{_where(name, cell)}: expected one solution block, found {count}")
    return new


def make_student(nb, name: str = "notebook"):
    """A student copy of the notebook ``nb`` (an ``nbformat`` notebook), outputs cleared."""
    student = copy.deepcopy(nb)
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code":
            cell.source = strip_source(cell.source, name, i)
            cell.outputs = []
            cell.execution_count = None
    return student


def _has_solution(cell) -> bool:
    return cell.cell_type == "code" and BEGIN_SOLUTION in cell.source


def solution_name(source: str, fallback: str) -> str:
    """The name of the function whose body holds the solution (the last ``def`` before it)."""
    head = source.split(BEGIN_SOLUTION)[0]
    names = re.findall(r"^\s*def\s+(\w+)\s*\(", head, flags=re.M)
    return names[-1] if names else fallback


@dataclass
class Exercise:
    solution: int  # index of the solution cell
    check: int  # index of its check cell
    name: str  # the function the student writes: the key of its wrong answers, the nbgrader id


@dataclass
class Plan:
    """Which cells the exercise check runs: setup (through the parameters cell and the cell
    that reads it) and the exercise section."""

    setup: List[int]
    section: List[int]
    exercises: List[Exercise] = field(default_factory=list)
    start: int = 0  # index of the '## Exercises' markdown cell


def _reads_parameters(cell) -> bool:
    """The cell after a papermill ``parameters`` cell that turns its values into a config."""
    return cell.cell_type == "code" and ("get_profile(" in cell.source or "choose(" in cell.source)


def plan(nb, name: str = "notebook") -> Plan:
    cells = nb.cells
    for i, c in enumerate(cells):  # marker errors first: they name the cell and the line
        if c.cell_type == "code":
            strip_source(c.source, name, i)
        elif any(m in c.source for m in (BEGIN_SOLUTION, BEGIN_HIDDEN)):
            raise MarkerError(
                f"{_where(name, i)}: solution or hidden-test markers in a {c.cell_type} cell; they belong in code cells"
            )
    params = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    if len(params) != 1:
        raise ValueError(f"{name}: needs exactly one cell tagged 'parameters', found {len(params)}")
    starts = [
        i for i, c in enumerate(cells) if c.cell_type == "markdown" and EXERCISES_HEADING.match(c.source.lstrip())
    ]
    if len(starts) != 1:
        raise ValueError(f"{name}: needs exactly one markdown cell starting with '## Exercises', found {len(starts)}")
    start = starts[0]
    early = [i for i, c in enumerate(cells[:start]) if _has_solution(c)]
    if early:
        raise ValueError(
            f"{name}: solution markers in cells {early}, before the Exercises section; "
            "move the exercise into the section so the student check runs it"
        )
    setup = [i for i in range(params[0] + 1) if cells[i].cell_type == "code"]
    after = next((i for i in range(params[0] + 1, start) if cells[i].cell_type == "code"), None)
    if after is not None and _reads_parameters(cells[after]):
        setup.append(after)
    code = [i for i in range(start, len(cells)) if cells[i].cell_type == "code"]
    p = Plan(setup=setup, section=code, start=start)
    seen: Dict[str, int] = {}
    for k, i in enumerate(code):
        if _has_solution(cells[i]):
            if k + 1 >= len(code) or _has_solution(cells[code[k + 1]]):
                raise ValueError(f"{_where(name, i)}: the solution has no check cell after it")
            ex_name = solution_name(cells[i].source, f"exercise_cell_{i}")
            if ex_name in seen:
                raise ValueError(
                    f"{_where(name, i)}: a second exercise named {ex_name!r} "
                    f"(the first is in cell {seen[ex_name]}); names must be unique"
                )
            seen[ex_name] = i
            p.exercises.append(Exercise(solution=i, check=code[k + 1], name=ex_name))
    if not p.exercises:
        raise ValueError(f"{name}: the Exercises section has no solution markers")
    return p


# --- keeping students from calling the reference implementation ----------------------------


class forbid:
    """``with forbid(ganlib.nn.truncated_noise): ...`` makes the given functions or classes raise
    an ``AssertionError`` that names them, wherever they are reachable by name: in every loaded
    module of their package and in the caller's globals (the notebook). Restored on exit."""

    def __init__(self, *targets):
        self.targets = targets
        self._patched: List[Tuple[dict, str, object]] = []

    @staticmethod
    def _label(obj) -> str:
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"

    def _refusal(self, obj):
        label = self._label(obj)

        def refused(*args, **kwargs):
            raise AssertionError(
                f"the exercise calls {label}, a ready-made implementation of what it asks for: write it yourself"
            )

        return refused

    def __enter__(self):
        caller = sys._getframe(1).f_globals
        for obj in self.targets:
            package = (getattr(obj, "__module__", None) or "").split(".")[0]
            spaces = [
                vars(m)
                for n, m in list(sys.modules.items())
                if m is not None and package and (n == package or n.startswith(package + "."))
            ]
            spaces.append(caller)
            refused = self._refusal(obj)
            for space in spaces:
                for key, value in list(space.items()):
                    if value is obj:
                        self._patched.append((space, key, value))
                        space[key] = refused
        return self

    def __exit__(self, *exc):
        for space, key, value in reversed(self._patched):
            space[key] = value
        self._patched.clear()
        return False


# --- wrong answers ---------------------------------------------------------------------------


def wrong_answers_path(notebook: Path) -> Path:
    """``tests/exercises/NN_name.py`` next to ``notebooks/NN_name.*``."""
    notebook = Path(notebook).resolve()
    return notebook.parent.parent / "tests" / "exercises" / f"{notebook.stem}.py"


def load_wrong_answers(path: Path) -> Dict[str, Dict[str, str]]:
    """The ``WRONG`` dict of a wrong-answers file (``{}`` when there is none)."""
    path = Path(path)
    if not path.exists():
        return {}
    namespace: dict = {"__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    wrong = namespace.get("WRONG")
    if not isinstance(wrong, dict):
        raise ValueError(f"{path}: needs a dict WRONG = {{function name: {{what is wrong: body}}}}")
    return wrong


def _cell_error(cell) -> Optional[Tuple[str, str]]:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    return (errors[0]["ename"], errors[0]["evalue"]) if errors else None


def _stderr(cell) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )


def _run(nb, cells, workdir: Path, timeout: int = 120):
    """Execute ``cells`` (notebook cells) in order in one kernel; return them with outputs."""
    import nbformat
    from nbclient import NotebookClient

    sub = nbformat.v4.new_notebook(metadata=nb.metadata)
    sub.cells = cells
    client = NotebookClient(
        sub, timeout=timeout, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return sub.cells


@dataclass
class Report:
    notebook: str
    exercises: int = 0
    wrong_tried: int = 0
    problems: List[str] = field(default_factory=list)
    caught: List[Tuple[str, str, str]] = field(default_factory=list)  # (exercise, wrong answer, message)


def check(path: Path, wrong_path: Optional[Path] = None, report: Optional[Report] = None) -> List[str]:
    """Run the exercise section with every wrong answer, the student version and the solution;
    return the problems (empty when every check does its job)."""
    import jupytext

    path = Path(path)
    name = path.name
    nb = jupytext.read(path)
    p = plan(nb, name)
    wrong = load_wrong_answers(wrong_path or wrong_answers_path(path))
    rep = report if report is not None else Report(name)
    rep.exercises = len(p.exercises)
    problems = rep.problems
    by_solution = {ex.solution: ex for ex in p.exercises}
    checks = {ex.check for ex in p.exercises}
    for key in sorted(set(wrong) - {ex.name for ex in p.exercises}):
        problems.append(f"{name}: wrong answers stored for {key!r}, which is no exercise here")

    seq: List[Tuple[tuple, object]] = [(("setup", i), copy.deepcopy(nb.cells[i])) for i in p.setup]
    for i in p.section:
        cell = nb.cells[i]
        ex = by_solution.get(i)
        if ex is not None:
            visible = copy.deepcopy(nb.cells[ex.check])
            visible.source = strip_source(visible.source, name, ex.check)
            answers = wrong.get(ex.name, {})
            if len(answers) < MIN_WRONG_ANSWERS:
                problems.append(
                    f"{_where(name, i)}: exercise {ex.name!r} has {len(answers)} wrong answers "
                    f"stored, needs at least {MIN_WRONG_ANSWERS}"
                )
            for what, body in answers.items():
                mutant = copy.deepcopy(cell)
                mutant.source = replace_solution(cell.source, body, name, i)
                seq += [(("wrong-def", ex, what), mutant), (("wrong", ex, what), copy.deepcopy(visible))]
            student = copy.deepcopy(cell)
            student.source = strip_source(cell.source, name, i)
            seq += [(("student-def", ex), student), (("student", ex), copy.deepcopy(visible))]
        seq.append((("full", i), copy.deepcopy(cell)))

    ran = _run(nb, [c for _, c in seq], path.parent)
    for (tag, *rest), cell in zip([t for t, _ in seq], ran):
        err = _cell_error(cell)
        if tag == "setup" and err:
            problems.append(f"{_where(name, rest[0])}: setup cell fails: {err[0]}: {err[1]}")
        elif tag == "full" and err:
            what = "check" if rest[0] in checks else "cell"
            problems.append(f"{_where(name, rest[0])}: full notebook, {what} fails: {err[0]}: {err[1]}")
        elif tag == "full" and rest[0] in checks and _stderr(cell):
            problems.append(
                f"{_where(name, rest[0])}: full notebook, the check writes to stderr, which "
                f"nbgrader grades as a failure: {_stderr(cell)[:200]!r}"
            )
        elif tag == "wrong-def" and err:
            problems.append(
                f"{_where(name, rest[0].solution)}: wrong answer {rest[1]!r} for "
                f"{rest[0].name!r} does not even define the function: {err[0]}: {err[1]}"
            )
        elif tag == "wrong":
            ex, what = rest
            rep.wrong_tried += 1
            if err is None:
                problems.append(
                    f"{_where(name, ex.check)}: the visible check of {ex.name!r} passes the wrong answer {what!r}"
                )
            elif err[0] != "AssertionError" or not err[1].strip():
                problems.append(
                    f"{_where(name, ex.check)}: the visible check of {ex.name!r} stops the wrong "
                    f"answer {what!r} with {err[0]}: {err[1]!r}, not with an assertion that "
                    "names the mistake"
                )
            else:
                rep.caught.append((ex.name, what, err[1].strip().splitlines()[0]))
        elif tag == "student" and err is None:
            ex = rest[0]
            problems.append(
                f"{_where(name, ex.check)}: student version, the check of {ex.name!r} passes without a solution"
            )
    return problems


# --- nbgrader --------------------------------------------------------------------------------


def nbgrader_notebook(nb, name: str = "notebook", exercises_only: bool = False, points: int = 1):
    """A copy of ``nb`` with nbgrader's cell metadata made from the markers, outputs cleared.

    Solution cells: ``solution: true``, id = the function's name. Check cells: ``grade: true``,
    ``locked: true``, ``points``, id ``check_<name>``. With ``exercises_only`` only the title,
    the setup and parameters cells and the exercise section stay (what a grader needs to run).
    """
    p = plan(nb, name)
    out = copy.deepcopy(nb)
    meta: Dict[int, dict] = {}
    for ex in p.exercises:
        meta[ex.solution] = dict(
            grade=False, grade_id=ex.name, locked=False, schema_version=NBGRADER_SCHEMA, solution=True, task=False
        )
        meta[ex.check] = dict(
            grade=True,
            grade_id=f"check_{ex.name}",
            locked=True,
            points=points,
            schema_version=NBGRADER_SCHEMA,
            solution=False,
            task=False,
        )
    for i, cell in enumerate(out.cells):
        cell.metadata.pop("nbgrader", None)
        if i in meta:
            cell.metadata["nbgrader"] = meta[i]
        elif cell.cell_type == "code" and any(m in cell.source for m in MARKERS):
            raise MarkerError(f"{_where(name, i)}: markers outside an exercise's solution or check cell")
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    if exercises_only:
        title = next(i for i, c in enumerate(out.cells) if c.cell_type == "markdown")
        keep = sorted({title, *p.setup, *range(p.start, len(out.cells))})
        out.cells = [out.cells[i] for i in keep]
    out.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    out.metadata.pop("jupytext", None)
    return out


def insert_wrong_answer(nb, exercise: str, body: str, name: str = "notebook"):
    """A copy of ``nb`` whose solution of ``exercise`` (the function's name) is ``body``."""
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        if _has_solution(cell) and solution_name(cell.source, "") == exercise:
            cell.source = replace_solution(cell.source, body, name, i)
            return out
    raise KeyError(f"{name}: no exercise named {exercise!r}")


# --- command line ----------------------------------------------------------------------------


def main(argv=None) -> int:
    import jupytext
    import nbformat

    ap = argparse.ArgumentParser(prog="python -m ganlib.student", description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path, help=".ipynb or paired .py chapters")
    ap.add_argument("--out", type=Path, default=Path("student"), help="folder for the written notebooks")
    ap.add_argument(
        "--check",
        action="store_true",
        help="run every wrong answer, the student version and the solution through the checks",
    )
    ap.add_argument("-v", "--verbose", action="store_true", help="with --check: print what caught each wrong answer")
    ap.add_argument(
        "--nbgrader",
        action="store_true",
        help="write the full notebooks with nbgrader metadata (an nbgrader source folder)",
    )
    ap.add_argument(
        "--exercises-only",
        action="store_true",
        help="with --nbgrader: keep only the setup, parameters and exercise cells",
    )
    ap.add_argument("--points", type=int, default=1, help="with --nbgrader: points per check cell")
    args = ap.parse_args(argv)
    try:
        if args.check:
            problems: List[str] = []
            for path in args.notebooks:
                rep = Report(path.name)
                check(path, report=rep)
                problems += rep.problems
                print(
                    f"{path.name}: {rep.exercises} exercises, {rep.wrong_tried} wrong answers tried, "
                    f"{len(rep.caught)} caught by a named assertion"
                )
                if args.verbose:
                    for ex, what, msg in rep.caught:
                        print(f"    {ex}: {what!r} -> {msg}")
            for msg in problems:
                print(msg)
            print("student check:", "FAILED" if problems else f"ok ({len(args.notebooks)} notebooks)")
            return 1 if problems else 0
        args.out.mkdir(parents=True, exist_ok=True)
        for src in args.notebooks:
            nb = jupytext.read(src)
            n = len(plan(nb, src.name).exercises)
            dest = args.out / (src.stem + ".ipynb")
            if args.nbgrader:
                out = nbgrader_notebook(nb, src.name, args.exercises_only, args.points)
            else:
                out = make_student(nb, src.name)
            nbformat.write(out, str(dest))
            print(f"{dest}: {n} exercises")
        return 0
    except MarkerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
