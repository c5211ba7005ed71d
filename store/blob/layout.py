"""Names the local store keeps for itself under its root: no object key may start with them."""

from __future__ import annotations

TMP_DIR = ".spyglass-tmp"  # puts in progress, renamed into place when complete
JOURNAL_DIR = ".spyglass-journal"  # write-ahead journals (journal.py)
RESERVED = (TMP_DIR, JOURNAL_DIR)
