"""Writing to storage so that a full or unwritable disk leaves nothing behind.

Django's FileSystemStorage leaves what it wrote when a write fails part-way
(ENOSPC in the middle of a file), and does not say under which name. The
helpers here choose the name first, so the partial file can be removed, and
say which storage faults a person can act on (a full disk, a read-only one)
as opposed to a bug.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from django.conf import settings
from django.core.files.storage import Storage, default_storage

log = logging.getLogger(__name__)

# Storage errors a person can act on: the disk is full, or cannot be written.
STORAGE_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
STORAGE_UNWRITABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})


def storage_fault(exc: BaseException) -> Literal["full", "unwritable"] | None:
    """ "full" or "unwritable" for a storage fault an admin can fix, else None."""
    if not isinstance(exc, OSError):
        return None
    if exc.errno in STORAGE_FULL:
        return "full"
    if exc.errno in STORAGE_UNWRITABLE:
        return "unwritable"
    return None


def storage_save(name: str, content: Any, *, storage: Storage | None = None) -> str:
    """Save `content` under `name` (or the free name the storage picks) and
    return the name used. A write that fails part-way removes what it wrote
    and raises the error (OSError for a full disk)."""
    storage = storage or default_storage
    name = storage.get_available_name(name)
    try:
        return storage.save(name, content)
    except BaseException:
        storage_delete_quietly(name, storage=storage)
        raise


def storage_delete_quietly(name: str, *, storage: Storage | None = None) -> None:
    """Delete `name` if it is there; a failure to delete is not raised, so the
    error that made us clean up is the one reported."""
    storage = storage or default_storage
    try:
        if storage.exists(name):
            storage.delete(name)
    except OSError as exc:
        log.error("could not remove %s after a failed write: %s", name, exc)


class StoredFileDamaged(RuntimeError):
    """A stored file's bytes are not those recorded when it was saved."""


def has_local_path(name: str, *, storage: Storage | None = None) -> bool:
    """Whether the storage keeps `name` as a file on this machine's disk."""
    storage = storage or default_storage
    try:
        storage.path(name)
    except NotImplementedError:
        return False
    return True


def local_copy(name: str, *, sha256: str = "", storage: Storage | None = None) -> Path:
    """A path on this machine's disk holding the stored file `name`.

    On the folder storage, the file itself. On object storage, a copy in
    MEDIA_CACHE_DIR, downloaded once per machine (a lock file keeps two
    processes from fetching it twice) and checked against `sha256` when one
    is given; least recently used copies are removed past
    MEDIA_CACHE_MAX_BYTES. A process that still reads a removed copy keeps
    reading it; the next caller downloads it again.
    """
    storage = storage or default_storage
    if has_local_path(name, storage=storage):
        return Path(storage.path(name))
    root = Path(settings.MEDIA_CACHE_DIR)
    root.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(name.encode()).hexdigest()[:32]
    target = root / f"{key}{PurePosixPath(name).suffix[:16]}"
    if target.exists():
        os.utime(target)
        return target
    with open(root / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            part = root / f".{key}.part-{os.getpid()}"
            digest = hashlib.sha256()
            try:
                with storage.open(name, "rb") as src, open(part, "wb") as dst:
                    while block := src.read(1 << 20):
                        digest.update(block)
                        dst.write(block)
                if sha256 and digest.hexdigest() != sha256:
                    raise StoredFileDamaged(
                        f"{name}: the stored file's SHA-256 is "
                        f"{digest.hexdigest()}, not {sha256} as recorded at upload"
                    )
                os.replace(part, target)
            finally:
                part.unlink(missing_ok=True)
    _evict_copies(root, keep=target)
    return target


def _evict_copies(root: Path, *, keep: Path) -> None:
    copies = [
        (entry.stat().st_mtime, entry.stat().st_size, Path(entry.path))
        for entry in os.scandir(root)
        if entry.is_file() and not entry.name.startswith(".")
    ]
    total = sum(size for _, size, _ in copies)
    for _, size, path in sorted(copies):
        if total <= settings.MEDIA_CACHE_MAX_BYTES:
            break
        if path == keep:
            continue
        path.unlink(missing_ok=True)
        total -= size


def copy_folder_to_storage(
    root: Path, *, storage: Storage | None = None, dry_run: bool = False
) -> dict[str, list[str]]:
    """Copy every file under `root` (an old MEDIA_ROOT) into `storage` under
    the same name, so the database's file names keep pointing at them.

    A name already stored with the same size is left ("present"); one stored
    with another size is never overwritten ("conflict"). Returns the names
    by outcome: copied, present, conflict.
    """
    storage = storage or default_storage
    outcome: dict[str, list[str]] = {"copied": [], "present": [], "conflict": []}
    for path in sorted(p for p in Path(root).rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if any(part.startswith(".") for part in name.split("/")):
            continue  # a partial write or the cache's lock files
        if storage.exists(name):
            same = storage.size(name) == path.stat().st_size
            outcome["present" if same else "conflict"].append(name)
            continue
        if not dry_run:
            with open(path, "rb") as fh:
                saved = storage.save(name, fh)
            if saved != name:  # a racing writer took the name: keep theirs
                storage.delete(saved)
                outcome["conflict"].append(name)
                continue
        outcome["copied"].append(name)
    return outcome
