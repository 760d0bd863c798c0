"""papermill's -p overrides reach the run: the injected PROFILE decides the config, whatever
GANLIB_PROFILE says (the parameters cell holds plain values; the config is chosen after it)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("chapter", ["00_introduction"])
def test_papermill_profile_overrides_the_environment(tmp_path, chapter):
    pytest.importorskip("papermill")
    out = tmp_path / f"{chapter}.ipynb"
    env = {**os.environ, "GANLIB_PROFILE": "cpu"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            str(ROOT / "notebooks" / f"{chapter}.ipynb"),
            str(out),
            "-p",
            "PROFILE",
            "ci",
            "--cwd",
            str(ROOT / "notebooks"),
            "--no-progress-bar",
            "--log-level",
            "WARNING",
        ],
        check=True,
        env=env,
        cwd=ROOT,
    )
    import nbformat

    text = "".join(
        o.get("text", "")
        for c in nbformat.read(out, as_version=4).cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
    assert "profile: ci" in text, "the injected PROFILE='ci' must choose the ci config"
    assert "profile: cpu" not in text
