"""Programs the UI and JS tests run (Chromium, node, npm): found on PATH, or installed with apt.

Nothing skips: when a program is missing and we run as root, `require` installs its Debian
package (`apt-get update`, then `apt-get install -y ...`), printing progress as it goes; when it
still cannot be had (not root, no apt, apt fails) the test fails, naming what is missing and the
command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import pytest

APT_TIMEOUT = 1800  # seconds for each apt-get run; Chromium is ~100 MB of packages


@dataclass(frozen=True)
class Tool:
    package: str  # the Debian package that provides it
    names: tuple[str, ...]  # executables, any of which will do

    def find(self) -> str | None:
        for name in self.names:
            found = shutil.which(name)
            if found:
                return found
        return None


CHROMIUM = Tool("chromium", ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"))
NODE = Tool("nodejs", ("node",))
NPM = Tool("npm", ("npm",))


def install_command(tools: tuple[Tool, ...]) -> str:
    packages = " ".join(dict.fromkeys(t.package for t in tools))
    return f"apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y {packages}"


@contextmanager
def _uncaptured(config: pytest.Config | None) -> Iterator[None]:
    """Lets progress lines reach the terminal while pytest captures the test's output."""
    capture = config.pluginmanager.getplugin("capturemanager") if config is not None else None
    with capture.global_and_fixture_disabled() if capture is not None else nullcontext():
        yield


def _apt_get(args: list[str], config: pytest.Config | None) -> tuple[int, str]:
    """Runs apt-get, echoing its output line by line; returns its exit status and output."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for a lock held by another apt run instead of failing at once.
    cmd = ["apt-get", "-o", "DPkg::Lock::Timeout=600", *args]
    lines: list[str] = []
    with _uncaptured(config):
        print(f"[system tools] $ {' '.join(cmd)}", flush=True)
        try:
            with subprocess.Popen(
                cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            ) as proc:
                assert proc.stdout is not None
                timer = threading.Timer(APT_TIMEOUT, proc.kill)
                timer.start()
                try:
                    for line in proc.stdout:
                        lines.append(line.rstrip())
                        print(f"[system tools]   {line.rstrip()}", flush=True)
                    status = proc.wait()
                finally:
                    timer.cancel()
                if status < 0:
                    lines.append(f"(apt-get killed by signal {-status}; each run gets {APT_TIMEOUT}s)")
        except OSError as exc:
            return 127, str(exc)
    return status, "\n".join(lines)


def require(config: pytest.Config | None, *tools: Tool) -> list[str]:
    """Paths of `tools`, installing the missing ones with apt when root; `pytest.fail` otherwise."""
    found = [t.find() for t in tools]
    missing = tuple(t for t, path in zip(tools, found, strict=True) if path is None)
    if not missing:
        return [path for path in found if path is not None]
    what = ", ".join(" or ".join(t.names) for t in missing)
    command = install_command(missing)
    if os.geteuid() != 0:
        pytest.fail(f"{what} not found on PATH and not running as root to install it; run: sudo sh -c '{command}'")
    if shutil.which("apt-get") is None:
        pytest.fail(f"{what} not found on PATH and there is no apt-get to install it; install it with: {command}")
    packages = list(dict.fromkeys(t.package for t in missing))
    started = time.monotonic()
    with _uncaptured(config):
        print(
            f"\n[system tools] {what} not found: installing {' '.join(packages)} with apt (a minute or two)", flush=True
        )
    for args in (["update"], ["install", "-y", *packages]):
        status, output = _apt_get(args, config)
        if status != 0:
            tail = "\n".join(output.splitlines()[-40:])
            pytest.fail(f"{what} not found, and `apt-get {' '.join(args)}` failed ({status}):\n{tail}\nrun: {command}")
    found = [t.find() for t in tools]
    still = [t for t, path in zip(tools, found, strict=True) if path is None]
    if still:
        names = ", ".join(" or ".join(t.names) for t in still)
        pytest.fail(f"apt-get installed {' '.join(packages)}, yet {names} is still not on PATH; run: {command}")
    with _uncaptured(config):
        print(f"[system tools] installed {' '.join(packages)} in {time.monotonic() - started:.0f}s", flush=True)
    return [path for path in found if path is not None]
