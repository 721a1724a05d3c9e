"""Writing to storage so that a full or unwritable disk leaves nothing behind.

Django's FileSystemStorage leaves what it wrote when a write fails part-way
(ENOSPC in the middle of a file), and does not say under which name. The
helpers here choose the name first, so the partial file can be removed, and
say which storage faults a person can act on (a full disk, a read-only one)
as opposed to a bug.
"""

from __future__ import annotations

import errno
import logging
from typing import Any, Literal

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
