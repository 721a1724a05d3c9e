"""Object storage for immutable files (index segments): a folder, or S3.

Django-free: the offline client uses it too. Keys are '/'-separated paths.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class ObjectMissing(KeyError):
    """No object has the key."""

    def __str__(self) -> str:
        return f"no object {self.args[0]!r}"


class ObjectStore:
    url: str = ""

    def put_file(self, key: str, path: Path) -> None:
        raise NotImplementedError

    def get_file(self, key: str, path: Path) -> None:
        raise NotImplementedError

    def put_bytes(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def get_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list(self, prefix: str) -> list[str]:
        raise NotImplementedError

    def delete(self, keys: Iterable[str]) -> None:
        raise NotImplementedError


class LocalStore(ObjectStore):
    """Objects as files under `root` (the embedded default)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = f"file://{self.root}"

    def _path(self, key: str) -> Path:
        parts = key.split("/")
        if key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"object key {key!r}: not a relative path")
        return self.root.joinpath(*parts)

    def _write(self, target: Path, data: bytes | None, source: Path | None) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as out:
                if source is not None:
                    with open(source, "rb") as src:
                        while block := src.read(1 << 20):
                            out.write(block)
                else:
                    out.write(data or b"")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_file(self, key: str, path: Path) -> None:
        self._write(self._path(key), None, Path(path))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._write(self._path(key), data, None)

    def get_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        if not source.is_file():
            raise ObjectMissing(key)
        self._write(Path(path), None, source)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        if not self.root.is_dir():
            return []
        keys = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return sorted(k for k in keys if k.startswith(prefix))

    def delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)


class S3Store(ObjectStore):
    """Objects in an S3 bucket under `prefix` (AWS, SeaweedFS, MinIO...)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}" + (
            f"?endpoint={endpoint_url}" if endpoint_url else ""
        )
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path"},
            ),
        )

    def _key(self, key: str) -> str:
        return self.prefix + key

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("404", "NoSuchKey", "NotFound")

    def ensure_bucket(self) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket)

    def put_file(self, key: str, path: Path) -> None:
        self.client.upload_file(str(path), self.bucket, self._key(key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get_file(self, key: str, path: Path) -> None:
        from botocore.exceptions import ClientError

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        try:
            self.client.download_file(self.bucket, self._key(key), str(part))
        except ClientError as exc:
            part.unlink(missing_ok=True)
            if self._missing(exc):
                raise ObjectMissing(key) from None
            raise
        os.replace(part, path)

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if self._missing(exc):
                raise ObjectMissing(key) from None
            raise
        return answer["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._key(prefix)
        )
        for page in pages:
            keys += [o["Key"][len(self.prefix) :] for o in page.get("Contents", [])]
        return sorted(keys)

    def delete(self, keys: Iterable[str]) -> None:
        batch: list[dict[str, str]] = []
        for key in keys:
            batch.append({"Key": self._key(key)})
            if len(batch) == 1000:
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch}
                )
                batch = []
        if batch:
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch})


@dataclass(frozen=True)
class S3Location:
    """Where `s3://bucket/prefix?endpoint=http://host:port&region=...` points."""

    bucket: str
    prefix: str
    endpoint_url: str | None
    region: str | None


def parse_s3_url(url: str) -> S3Location:
    """The parts of an s3:// URL; ValueError naming the URL if it is not one,
    has no bucket, or carries credentials (they belong in AWS_ACCESS_KEY_ID
    and AWS_SECRET_ACCESS_KEY, never in a URL that is logged and shown)."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ValueError(f"{url}: not an s3:// URL")
    query = parse_qs(parts.query)
    secret = {
        "access_key",
        "secret_key",
        "aws_access_key_id",
        "aws_secret_access_key",
    }
    if secret & set(query):
        raise ValueError(
            f"{parts.scheme}://{parts.netloc}{parts.path}: credentials do not "
            "belong in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if not parts.netloc:
        raise ValueError(f"{url}: no bucket")
    return S3Location(
        bucket=parts.netloc,
        prefix=parts.path.strip("/"),
        endpoint_url=(query.get("endpoint") or [None])[0],
        region=(query.get("region") or [None])[0],
    )


def store_from_url(url: str) -> ObjectStore:
    """`file:///abs/path` or a bare path: a folder; `s3://bucket/prefix?endpoint=
    http://host:port&region=...`: S3, credentials from AWS_ACCESS_KEY_ID and
    AWS_SECRET_ACCESS_KEY (never in the URL)."""
    if "://" not in url:
        return LocalStore(Path(url))
    parts = urlsplit(url)
    if parts.scheme == "file":
        # file:///abs/path; file://relative/path is read as a relative path,
        # not as a host named "relative".
        return LocalStore(Path(url[len("file://") :]))
    if parts.scheme == "s3":
        where = parse_s3_url(url)
        return S3Store(
            where.bucket,
            where.prefix,
            endpoint_url=where.endpoint_url,
            region=where.region,
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
    raise ValueError(
        f"{url}: object storage is file:// or s3://, not {parts.scheme}://"
    )


# Media files read through Django's storage are spooled to a temporary file
# past this size, so a large download never sits in a process's memory.
MEDIA_SPOOL_BYTES = 8 * 1024**2
# A redirect to a stored file (MEDIA_STORAGE_REDIRECT) is signed for this long.
MEDIA_URL_SECONDS = 300


def media_storage(url: str) -> dict[str, object]:
    """STORAGES["default"] for MEDIA_STORAGE_URL: empty for the folder
    MEDIA_ROOT, or `s3://bucket/prefix?endpoint=...` for django-storages' S3
    backend (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
    ValueError naming the URL for anything else."""
    if not url:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if not url.startswith("s3://"):
        raise ValueError(
            f"MEDIA_STORAGE_URL={url}: media is kept in MEDIA_ROOT (leave it "
            "empty) or in object storage (s3://bucket/prefix?endpoint=...)"
        )
    where = parse_s3_url(url)
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": where.bucket,
            "location": where.prefix,
            "endpoint_url": where.endpoint_url,
            "region_name": where.region or "us-east-1",
            "addressing_style": "path",
            "signature_version": "s3v4",
            # Private objects, reached only through signed, short-lived URLs.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": MEDIA_URL_SECONDS,
            # A name already taken gets a new one, as on a disk: never replaced.
            "file_overwrite": False,
            "max_memory_size": MEDIA_SPOOL_BYTES,
        },
    }
