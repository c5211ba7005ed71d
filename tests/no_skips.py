"""A run that skips a test fails: a skipped browser or SDK test would prove nothing on a new machine.

Loaded by tests/conftest.py. Deselecting (`-m "not slow"`, `-k`) is not skipping and stays allowed.
"""

from __future__ import annotations

import pytest

_skipped: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.setdefault(report.nodeid, reason)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"skipped: {len(_skipped)}" + (" — a run that skips any test fails" if _skipped else "")
    )
    for nodeid, reason in _skipped.items():
        terminalreporter.write_line(f"  SKIPPED {nodeid}: {reason}", red=True)
