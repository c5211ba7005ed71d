"""mypy over the five source folders under the names they are installed as (`spyglass.*`).

The repository keeps collector/, store/, query/, ui/ and cli/ at the top level, mapped to
`spyglass.<folder>` by pyproject.toml. mypy resolves imports by directory layout alone, so this
lays that layout out as links under .mypy_cache/ and checks the `spyglass` package there.
Run: `.venv/bin/python -m tests.typecheck` (extra arguments go to mypy).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mypy import api

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("collector", "store", "query", "ui", "cli")


def link_tree() -> Path:
    """`.mypy_cache/src/spyglass/<folder>` → `<folder>`; a fixed place, so mypy's cache stays valid."""
    base = ROOT / ".mypy_cache" / "src"
    package = base / "spyglass"
    package.mkdir(parents=True, exist_ok=True)
    for folder in FOLDERS:
        link = package / folder
        if not link.is_symlink():
            link.symlink_to(ROOT / folder, target_is_directory=True)
    return base


def main(argv: list[str]) -> int:
    base = link_tree()
    os.environ["MYPYPATH"] = str(base)
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"), *argv, "-p", "spyglass"])
    # Name files by their path in the repository, not in the link tree.
    for prefix in (f"{base}/spyglass/", f"{base.relative_to(ROOT)}/spyglass/"):
        out = out.replace(prefix, "")
    sys.stdout.write(out)
    sys.stderr.write(err)
    return status


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
