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
        f"{chapter}.py and {chapter}.ipynb differ: run `jupytext --sync notebooks/{chapter}.py`")
    dirty = [i for i, c in enumerate(raw["cells"])
             if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{chapter}.ipynb is committed with outputs in cells {dirty}: clear them"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_anatomy(chapter):
    nb = jupytext.read(NOTEBOOKS / f"{chapter}.py")
    first_md = next(c.source for c in nb.cells if c.cell_type == "markdown")
    badge = f"colab.research.google.com/github/{REPO_URL.split('github.com/')[1]}/blob/main/notebooks/{chapter}.ipynb"
    assert badge in first_md, f"{chapter}: the title cell needs the Open in Colab badge ({badge})"
    first_code = next(c.source for c in nb.cells if c.cell_type == "code")
    assert '"google.colab" in sys.modules' in first_code, f"{chapter}: first code cell must be the guarded Colab install"
    assert f"git+{REPO_URL}" in first_code, f"{chapter}: the Colab install must use {REPO_URL}"
    assert not re.search(r"torch[=<>]=|numpy[=<>]=", first_code), f"{chapter}: no pins on what Colab has"
    params = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{chapter}: exactly one cell tagged 'parameters'"
    _check_parameters_cell(chapter, nb.cells[params[0]].source)
    after = next(c.source for c in nb.cells[params[0] + 1:] if c.cell_type == "code")
    assert "get_profile(PROFILE)" in after and "choose(" in after, (
        f"{chapter}: the cell after the parameters cell chooses the config: "
        "PROFILE = ganlib.get_profile(PROFILE); cfg = ganlib.choose(PROFILE, ...)")
    assert any(c.cell_type == "markdown" and c.source.lstrip().startswith("## Exercises") for c in nb.cells), \
        f"{chapter}: the exercises need a markdown cell of their own starting with '## Exercises'"


def _check_parameters_cell(chapter, source):
    """papermill injects its values in a cell after the parameters cell, so the parameters cell
    may only hold plain values (a reader's or papermill's overrides), never the chosen config."""
    import ast

    names = []
    for node in ast.parse(source).body:
        assert isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets), (
            f"{chapter}: the parameters cell holds only plain assignments (NAME = value), found "
            f"{ast.get_source_segment(source, node)!r}")
        ast.literal_eval(node.value)  # raises for anything but a plain value
        names += [t.id for t in node.targets]
    assert "PROFILE" in names, f"{chapter}: the parameters cell sets PROFILE"


def test_parameters_cell_check_refuses_a_chosen_config():
    _check_parameters_cell("x", 'PROFILE = ""\nSEEDS = (0, 1, 2)')
    with pytest.raises(AssertionError, match="plain assignments"):
        _check_parameters_cell("x", 'PROFILE = ""\ncfg = choose(PROFILE, ci=1, cpu=2, gpu=3)')
    with pytest.raises(ValueError):
        _check_parameters_cell("x", "PROFILE = ganlib.get_profile()")


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
        f"only in pyproject.toml {sorted(wanted - (conda | pip))}")


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
