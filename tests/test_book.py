"""The book's files: notebook pairs in sync, no committed outputs, the Colab cell, the
parameters cell, environment.yml against pyproject.toml, and the student versions."""

import json
import re
import sys
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHAPTERS = sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REPO_URL = PYPROJECT["project"]["urls"]["Repository"]


def test_every_chapter_is_a_pair():
    assert CHAPTERS, "no chapters found"
    ipynb = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    py = sorted(p.stem for p in NOTEBOOKS.glob("*.py"))
    assert ipynb == py, f"unpaired notebooks: {sorted(set(ipynb) ^ set(py))}"


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_pair_in_sync_and_without_outputs(chapter):
    py = jupytext.read(NOTEBOOKS / f"{chapter}.py")
    raw = json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text())
    ipynb = jupytext.read(NOTEBOOKS / f"{chapter}.ipynb")
    assert _cells(py) == _cells(ipynb), (
        f"{chapter}.py and {chapter}.ipynb differ: run `jupytext --sync notebooks/{chapter}.py`"
    )
    dirty = [
        i
        for i, c in enumerate(raw["cells"])
        if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))
    ]
    assert not dirty, f"{chapter}.ipynb is committed with outputs in cells {dirty}: clear them"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_anatomy(chapter):
    nb = jupytext.read(NOTEBOOKS / f"{chapter}.py")
    first_md = next(c.source for c in nb.cells if c.cell_type == "markdown")
    badge = f"colab.research.google.com/github/{REPO_URL.split('github.com/')[1]}/blob/main/notebooks/{chapter}.ipynb"
    assert badge in first_md, f"{chapter}: the title cell needs the Open in Colab badge ({badge})"
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in first_code, (
        f"{chapter}: first code cell must be the guarded Colab install"
    )
    assert f"git+{REPO_URL}" in first_code, f"{chapter}: the Colab install must use {REPO_URL}"
    assert not re.search(r"torch[=<>]=|numpy[=<>]=", first_code), f"{chapter}: no pins on what Colab has"
    params = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{chapter}: exactly one cell tagged 'parameters'"
    _check_parameters_cell(chapter, nb.cells[params[0]].source)
    after = next(c.source for c in nb.cells[params[0] + 1 :] if c.cell_type == "code")
    assert "get_profile(PROFILE)" in after and "choose(" in after, (
        f"{chapter}: the cell after the parameters cell chooses the config: "
        "PROFILE = ganlib.get_profile(PROFILE); cfg = ganlib.choose(PROFILE, ...)"
    )
    assert any(c.cell_type == "markdown" and c.source.lstrip().startswith("## Exercises") for c in nb.cells), (
        f"{chapter}: the exercises need a markdown cell of their own starting with '## Exercises'"
    )


def _check_parameters_cell(chapter, source):
    """papermill injects its values in a cell after the parameters cell, so the parameters cell
    may only hold plain values (a reader's or papermill's overrides), never the chosen config."""
    import ast

    names = []
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets), (
            f"{chapter}: the parameters cell holds only plain assignments (NAME = value), found "
            f"{ast.get_source_segment(source, node)!r}"
        )
        try:
            ast.literal_eval(node.value)
        except ValueError:
            raise AssertionError(
                f"{chapter}: the parameters cell holds only plain assignments (NAME = a literal value), "
                f"found {ast.get_source_segment(source, node)!r}: move it to the cell after"
            ) from None
        names += [t.id for t in node.targets]
    assert "PROFILE" in names, f"{chapter}: the parameters cell sets PROFILE"


def test_parameters_cell_check_refuses_a_chosen_config():
    _check_parameters_cell("x", 'PROFILE = ""\nSEEDS = (0, 1, 2)')
    with pytest.raises(AssertionError, match="plain assignments"):
        _check_parameters_cell("x", 'PROFILE = ""\ncfg = choose(PROFILE, ci=1, cpu=2, gpu=3)')
    with pytest.raises(AssertionError, match="literal value"):
        _check_parameters_cell("x", "PROFILE = ganlib.get_profile()")
    with pytest.raises(AssertionError, match="sets PROFILE"):
        _check_parameters_cell("x", "SEEDS = 3")


def test_readme_lists_every_chapter_with_a_badge():
    readme = (ROOT / "README.md").read_text()
    for chapter in CHAPTERS:
        assert f"notebooks/{chapter}.ipynb" in readme, f"README: chapter table lacks {chapter}"


def _requirement_names(reqs):
    return {re.split(r"[<>=!~ \[;]", r.strip(), maxsplit=1)[0].lower().replace("_", "-") for r in reqs}


def test_environment_yml_names_the_same_packages_as_pyproject():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip |= _requirement_names(r for r in dep.get("pip", []) if not r.startswith("-e"))
        else:
            conda |= _requirement_names([dep])
    conda -= {"python", "pip"}
    project = PYPROJECT["project"]
    wanted = _requirement_names(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        wanted |= _requirement_names(extra)
    wanted = {"pytorch" if n == "torch" else n for n in wanted}
    assert conda | pip == wanted, (
        f"environment.yml and pyproject.toml differ: only in environment.yml {sorted((conda | pip) - wanted)}, "
        f"only in pyproject.toml {sorted(wanted - (conda | pip))}"
    )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_version(chapter):
    """Full notebook: the exercise section passes. Student version: every exercise's check fails."""
    from ganlib.student import check

    problems = check(NOTEBOOKS / f"{chapter}.py")
    assert not problems, "\n".join(problems)


def test_student_markers_are_replaced_and_hidden_tests_dropped():
    from ganlib.student import make_student, strip_source

    src = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert strip_source(src) == "def f(x):\n    '''doc'''\n    raise NotImplementedError()"
    check = "assert f(1) == 2\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS\nprint('ok')"
    assert strip_source(check) == "assert f(1) == 2\nprint('ok')"
    with pytest.raises(ValueError, match="without a closing"):
        strip_source("### BEGIN SOLUTION\nx = 1\n")
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src)]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="hi")]
    student = make_student(nb)
    assert student.cells[0].outputs == [] and "NotImplementedError" in student.cells[0].source
    assert "return x + 1" in nb.cells[0].source  # the original is untouched


def test_repository_address_is_the_same_everywhere():
    """pyproject.toml holds the address; tools/set_repo_url.py rewrites the copies below."""
    import yaml

    slug = REPO_URL.split("github.com/")[1]
    book = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert book["repository"]["url"] == REPO_URL
    readme = (ROOT / "README.md").read_text()
    others = set(re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", readme))
    assert others == {slug}, f"README badges point at {others}, pyproject.toml at {slug}"


def test_student_marker_errors_name_notebook_cell_and_line():
    import nbformat

    from ganlib.student import MarkerError, make_student

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# t"),
        nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n"),
    ]
    with pytest.raises(MarkerError, match=r"ch\.ipynb, cell 1, line 2: .*without a closing"):
        make_student(nb, "ch.ipynb")
    nb.cells[1].source = "### BEGIN SOLUTION\nx = 1\n### BEGIN SOLUTION\n### END SOLUTION\n"
    with pytest.raises(MarkerError, match=r"ch\.ipynb, cell 1, line 3: .*inside another .*line 1"):
        make_student(nb, "ch.ipynb")
    nb.cells[1].source = "x = 1\n### END HIDDEN TESTS\n"
    with pytest.raises(MarkerError, match=r"ch\.ipynb, cell 1, line 2: .*without"):
        make_student(nb, "ch.ipynb")


def test_forbid_makes_the_reference_raise_and_restores_it():
    import ganlib.nn
    from ganlib.nn import truncated_noise

    cell = (  # a notebook's globals: the student imported the reference by name
        "from ganlib.nn import truncated_noise\n"
        "from ganlib.student import forbid\n"
        "def mine(n, dim, t):\n"
        "    return truncated_noise(n, dim, t)\n"
        "with forbid(truncated_noise):\n"
        "    try:\n"
        "        mine(2, 3, 0.5)\n"
        "        message = None\n"
        "    except AssertionError as e:\n"
        "        message = str(e)\n"
        "    try:\n"
        "        import ganlib.nn\n"
        "        ganlib.nn.truncated_noise(2, 3, 0.5)\n"
        "        via_module = None\n"
        "    except AssertionError as e:\n"
        "        via_module = str(e)\n"
    )
    namespace = {}
    exec(cell, namespace)
    assert namespace["message"] and "truncated_noise" in namespace["message"], "the global name is not blocked"
    assert namespace["via_module"] and "truncated_noise" in namespace["via_module"], (
        "the module attribute is not blocked"
    )
    assert namespace["truncated_noise"] is truncated_noise and ganlib.nn.truncated_noise is truncated_noise
    assert namespace["mine"](2, 3, 0.5).shape == (2, 3), "restored after the block"


def test_every_exercise_has_wrong_answers_on_file():
    """tests/exercises/NN_name.py holds >= 3 wrong answers per exercise, keyed by existing exercises."""
    from ganlib.student import MIN_WRONG_ANSWERS, load_wrong_answers, plan, wrong_answers_path

    for chapter in CHAPTERS:
        nb = jupytext.read(NOTEBOOKS / f"{chapter}.py")
        names = {ex.name for ex in plan(nb, chapter).exercises}
        assert len(names) >= 2, f"{chapter}: at least two exercises"
        wrong = load_wrong_answers(wrong_answers_path(NOTEBOOKS / f"{chapter}.py"))
        assert set(wrong) == names, f"{chapter}: wrong answers for {sorted(wrong)}, exercises {sorted(names)}"
        few = {k: len(v) for k, v in wrong.items() if len(v) < MIN_WRONG_ANSWERS}
        assert not few, f"{chapter}: fewer than {MIN_WRONG_ANSWERS} wrong answers for {few}"


def test_nbgrader_round_trip(tmp_path):
    """nbgrader accepts every chapter; autograde gives the solutions full marks, the released
    notebooks 0, and a notebook with one wrong answer exactly the points of that check less."""
    import os
    import shutil
    import subprocess
    import time

    import nbformat

    pytest.importorskip("nbgrader")
    from nbgrader.api import Gradebook

    from ganlib.student import insert_wrong_answer, load_wrong_answers, nbgrader_notebook, plan, wrong_answers_path

    start = time.perf_counter()
    root, assignment = tmp_path / "course", "exercises"
    source = root / "source" / assignment
    source.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.CourseDirectory.course_id = 'ganbook'\n"
        "c.ExecutePreprocessor.timeout = 300\n"
    )
    points, wrong_in = {}, {}
    for chapter in CHAPTERS:
        nb = jupytext.read(NOTEBOOKS / f"{chapter}.py")
        graded = nbgrader_notebook(nb, chapter, exercises_only=True)
        nbformat.write(graded, str(source / f"{chapter}.ipynb"))
        exercises = plan(nb, chapter).exercises
        points[chapter] = len(exercises)  # one point per check cell
        ex = exercises[-1].name  # the wrong answer goes into the chapter's last exercise
        what, body = next(iter(load_wrong_answers(wrong_answers_path(NOTEBOOKS / f"{chapter}.py"))[ex].items()))
        wrong_in[chapter] = (ex, what, insert_wrong_answer(graded, ex, body, chapter))

    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "GANLIB_PROFILE": "ci",
        "OMP_NUM_THREADS": "1",
    }

    def nbgrader(*args):
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    nbgrader("generate_assignment", assignment, "--create", "--force")
    release = root / "release" / assignment
    assert sorted(p.stem for p in release.glob("*.ipynb")) == CHAPTERS
    for chapter in CHAPTERS:
        text = (release / f"{chapter}.ipynb").read_text()
        assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text, f"{chapter}: released with answers"

    for student in ("full", "blank", "wrong"):
        (root / "submitted" / student / assignment).mkdir(parents=True)
    for chapter in CHAPTERS:
        shutil.copy(source / f"{chapter}.ipynb", root / "submitted" / "full" / assignment)
        shutil.copy(release / f"{chapter}.ipynb", root / "submitted" / "blank" / assignment)
        nbformat.write(wrong_in[chapter][2], str(root / "submitted" / "wrong" / assignment / f"{chapter}.ipynb"))
    nbgrader("autograde", assignment, "--create", "--force")

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for chapter in CHAPTERS:
            score = {s: gb.find_submission_notebook(chapter, assignment, s).score for s in ("full", "blank", "wrong")}
            ex, what = wrong_in[chapter][:2]
            assert score["full"] == points[chapter], (
                f"{chapter}: the solutions score {score['full']} of {points[chapter]}"
            )
            assert score["blank"] == 0, f"{chapter}: the released notebook scores {score['blank']}, not 0"
            assert score["wrong"] == points[chapter] - 1, (
                f"{chapter}: the wrong answer {what!r} in {ex} scores {score['wrong']}, expected {points[chapter] - 1}"
            )
    print(
        f"nbgrader round trip: {len(CHAPTERS)} chapters, 3 submissions each, {time.perf_counter() - start:.0f} s wall"
    )
