"""Execute the chapters and build the HTML book into book/_build/html (Jupyter Book 1).

The profile comes from GANLIB_PROFILE (default cpu). Executed notebooks are cached per
profile (book/_build/.jupyter_cache-<profile>), so a re-run executes only the chapters
whose code changed, and switching profiles never shows another profile's outputs.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from ganlib.profiles import get_profile

    profile = get_profile(os.environ.get("GANLIB_PROFILE") or "cpu")
    os.environ["GANLIB_PROFILE"] = profile
    os.environ["GANLIB_STATIC"] = "1"  # the pages show static grids where a live notebook has sliders
    # keep the .py sources and the .ipynb files in step before executing
    for py in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(py)], check=True, cwd=ROOT)
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    config["execute"]["cache"] = str(ROOT / "book" / "_build" / f".jupyter_cache-{profile}")
    generated = ROOT / "book" / "_build" / "_config.generated.yml"
    generated.parent.mkdir(parents=True, exist_ok=True)
    generated.write_text(yaml.safe_dump(config, sort_keys=False))
    start = time.time()
    cmd = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(ROOT),
        "--config",
        str(generated),
        "--toc",
        str(ROOT / "book" / "_toc.yml"),
        "--path-output",
        str(ROOT / "book"),
    ]
    print(f"building the book with profile {profile!r}:", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=ROOT)
    print(
        f"book build: {time.time() - start:.0f} s, profile {profile}, "
        f"output {ROOT / 'book' / '_build' / 'html' / 'index.html'}"
    )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
