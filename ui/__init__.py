"""Spyglass's web UI: plain static files (HTML, JS modules, CSS), no build step.

`spyglass.query.views.ui` serves them; this package only says where they are.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent
