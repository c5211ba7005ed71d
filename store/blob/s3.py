"""Blob store in an S3 bucket (AWS, R2, MinIO, SeaweedFS...) through boto3.

boto3 is synchronous, so every call runs in this store's own thread pool (sized like botocore's
connection pool) and the event loop never blocks. Object names are `{prefix}{key}`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from spyglass.store.config import BlobConfig
from spyglass.store.errors import PermanentError, RetryableError, StoreError

from .base import DEFAULT_CONTENT_TYPE, check_expiry
from .errors import BlobNotFound
from .keys import check_key, check_prefix
from .s3_errors import error_code, http_status, map_boto_error
from .signing import check_store_name

T = TypeVar("T")
_DELETE_BATCH = 1000  # DeleteObjects' limit

# One boto3 session for every store: it caches the parsed service models, which makes creating a
# client ~10x cheaper than from a fresh session. Sessions are not thread-safe, hence the lock.
_SESSION_LOCK = threading.Lock()
_SESSION: boto3.session.Session | None = None


def _new_client(**kwargs: Any) -> Any:
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            _SESSION = boto3.session.Session()
        return _SESSION.client("s3", **kwargs)


class S3BlobStore:
    """One bucket (plus optional key prefix) as a BlobStore."""

    def __init__(
        self,
        cfg: BlobConfig,
        *,
        name: str,
        max_workers: int = 16,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
        list_page_size: int = 1000,
    ) -> None:
        if cfg.bucket is None:
            raise ValueError("S3BlobStore needs cfg.bucket")
        self.name = check_store_name(name)
        self.bucket = cfg.bucket
        self.component = f"blob store {name!r} (s3)"
        self.prefix = check_prefix(self.component, cfg.prefix)
        self.url = f"{(cfg.endpoint or 's3://').rstrip('/')}/{cfg.bucket}"
        self.list_page_size = list_page_size
        # "auto" is what R2 wants; AWS itself needs a real region or the environment's default.
        region = cfg.region if (cfg.region != "auto" or cfg.endpoint) else None
        config = Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if cfg.force_path_style else "virtual"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"total_max_attempts": max_attempts, "mode": "standard"},
            max_pool_connections=max_workers,
            # Only the checksums S3 demands: many S3-compatible servers reject the newer
            # default CRC trailers, and presigned PUTs must not carry a checksum we cannot know.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: Any = _new_client(
            endpoint_url=cfg.endpoint,
            region_name=region,
            aws_access_key_id=cfg.access_key_id,
            aws_secret_access_key=cfg.secret_access_key,
            config=config,
        )
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix=f"blob-{name}")
        self._closed = False

    # -- plumbing ------------------------------------------------------------------------------

    def _object(self, key: str) -> str:
        return self.prefix + check_key(self.component, key)

    async def _run(self, what: str, fn: Callable[[], T]) -> T:
        if self._closed:
            raise RetryableError(self.component, "store is closed", self.url)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except StoreError:
            raise
        except (BotoCoreError, ClientError) as exc:
            raise map_boto_error(exc, component=self.component, url=self.url, what=what) from exc

    # -- objects -------------------------------------------------------------------------------

    async def put(self, key: str, data: bytes, content_type: str = DEFAULT_CONTENT_TYPE) -> None:
        name = self._object(key)
        body = bytes(data)
        await self._run(
            f"put {key!r}",
            lambda: self._client.put_object(Bucket=self.bucket, Key=name, Body=body, ContentType=content_type),
        )

    async def get(self, key: str) -> bytes:
        name = self._object(key)

        def fetch() -> bytes:
            try:
                response = self._client.get_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                if error_code(exc) in ("NoSuchKey", "404"):
                    raise BlobNotFound(self.component, key, self.url) from None
                raise
            with response["Body"] as body:
                return bytes(body.read())

        return await self._run(f"get {key!r}", fetch)

    async def exists(self, key: str) -> bool:
        name = self._object(key)

        def head() -> bool:
            try:
                self._client.head_object(Bucket=self.bucket, Key=name)
            except ClientError as exc:
                # HEAD has no body, so a missing bucket looks the same as a missing key here.
                if http_status(exc) == 404:
                    return False
                raise
            return True

        return await self._run(f"head {key!r}", head)

    async def delete(self, key: str) -> None:
        name = self._object(key)
        await self._run(f"delete {key!r}", lambda: self._client.delete_object(Bucket=self.bucket, Key=name))

    async def delete_many(self, keys: Iterable[str]) -> None:
        names = [self._object(k) for k in keys]
        for start in range(0, len(names), _DELETE_BATCH):
            chunk = names[start : start + _DELETE_BATCH]

            def delete_chunk(chunk: list[str] = chunk) -> list[dict[str, str]]:
                response = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": n} for n in chunk], "Quiet": True},
                )
                return list(response.get("Errors", []))

            errors = await self._run(f"delete {len(chunk)} keys", delete_chunk)
            if errors:
                first = errors[0]
                fake = ClientError(
                    {"Error": {"Code": first.get("Code", ""), "Message": first.get("Message", "")}},
                    "DeleteObjects",
                )
                raise map_boto_error(
                    fake,
                    component=self.component,
                    url=self.url,
                    what=f"delete {len(errors)} of {len(chunk)} keys failed, first {first.get('Key')!r}",
                )

    async def list(self, prefix: str = "", start_after: str | None = None) -> AsyncIterator[str]:
        check_prefix(self.component, prefix)
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Prefix": self.prefix + prefix,
            "MaxKeys": self.list_page_size,
        }
        if start_after is not None:
            params["StartAfter"] = self.prefix + start_after
        cut = len(self.prefix)
        while True:
            request = dict(params)

            def fetch_page(request: dict[str, Any] = request) -> dict[str, Any]:
                return dict(self._client.list_objects_v2(**request))

            page = await self._run(f"list {prefix!r}", fetch_page)
            for item in page.get("Contents", []):
                yield item["Key"][cut:]
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return
            params.pop("StartAfter", None)
            params["ContinuationToken"] = token

    # -- presigned URLs ------------------------------------------------------------------------

    async def presign_get(self, key: str, expires_in: int) -> str:
        params = {"Bucket": self.bucket, "Key": self._object(key)}
        seconds = check_expiry(expires_in)
        return await self._run(
            f"presign get {key!r}",
            lambda: str(self._client.generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)),
        )

    async def presign_put(
        self,
        key: str,
        expires_in: int,
        content_type: str,
        content_length: int | None = None,
        checksum_sha256_b64: str | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self._object(key),
            "ContentType": content_type,
        }
        if content_length is not None:
            params["ContentLength"] = int(content_length)
        if checksum_sha256_b64 is not None:
            params["ChecksumSHA256"] = checksum_sha256_b64
        seconds = check_expiry(expires_in)
        return await self._run(
            f"presign put {key!r}",
            lambda: str(self._client.generate_presigned_url("put_object", Params=params, ExpiresIn=seconds)),
        )

    # -- bucket --------------------------------------------------------------------------------

    def _bucket_exists(self) -> bool:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if http_status(exc) == 404:
                return False
            raise
        return True

    async def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (only ever done when asked)."""

        def ensure() -> None:
            if self._bucket_exists():
                return
            params: dict[str, Any] = {"Bucket": self.bucket}
            region = self._client.meta.region_name
            if region and region not in ("us-east-1", "auto"):
                params["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                self._client.create_bucket(**params)
            except ClientError as exc:
                if error_code(exc) != "BucketAlreadyOwnedByYou":
                    raise

        await self._run(f"create bucket {self.bucket!r}", ensure)

    async def check(self) -> None:
        def probe() -> None:
            if not self._bucket_exists():
                raise PermanentError(self.component, f"bucket {self.bucket!r} does not exist", self.url)

        await self._run(f"head bucket {self.bucket!r}", probe)

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._executor.shutdown(wait=False)
            self._client.close()
