"""Point the book at another public repository: python tools/set_repo_url.py https://github.com/OWNER/REPO

The address lives in pyproject.toml ([project.urls] Repository); this rewrites the copies the
notebooks (Colab install cell, badge), the README and the book config need. A test checks
that they all agree with pyproject.toml.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = [
    "pyproject.toml",
    "README.md",
    "CONTRIBUTING.md",
    "book/_config.yml",
    *[str(p.relative_to(ROOT)) for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.*"))],
]


def main(new: str) -> None:
    m = re.fullmatch(r"https://github\.com/([\w.-]+/[\w.-]+)", new.rstrip("/"))
    if not m:
        sys.exit(f"expected https://github.com/OWNER/REPO, got {new!r}")
    text = (ROOT / "pyproject.toml").read_text()
    old = re.search(r'Repository = "https://github\.com/([\w.-]+/[\w.-]+)"', text).group(1)
    for name in FILES:
        path = ROOT / name
        path.write_text(
            path.read_text()
            .replace(f"github.com/{old}", f"github.com/{m.group(1)}")
            .replace(f"github/{old}/", f"github/{m.group(1)}/")
        )
    print(f"repository address: {old} -> {m.group(1)} in {len(FILES)} files")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
