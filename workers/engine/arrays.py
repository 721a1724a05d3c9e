"""Where an index build puts the arrays it keeps (Django-free).

An index over 80 million images is tens of gigabytes. Built in memory and
saved afterwards, every array it keeps stays process memory until the whole
build ends, beside the transient arrays of the next step. Built into
`ArrayFiles(folder)`, each array an index keeps is an .npy file in the
index's own folder, filled through a memory map: page cache, which the
system writes back and reclaims, so a build's process memory is its
transient arrays (bench/segment_memory.py measures both ways). `save_array`
then leaves such a file as it is. The files are byte for byte what np.save
writes (tests/engine/test_segments.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

# Rows copied at a time when an array is written to its file or gathered
# into one: the transient cost of a copy, not the array's size.
BLOCK_ROWS = 1 << 20


class ArrayFiles:
    """Kept arrays in memory (folder None) or as `folder/<prefix><name>.npy`."""

    def __init__(self, folder: Path | None = None, prefix: str = "") -> None:
        self.folder = folder
        self.prefix = prefix

    @property
    def on_disk(self) -> bool:
        return self.folder is not None

    def sub(self, prefix: str) -> ArrayFiles:
        """The same folder, names prefixed (a URL index's tables)."""
        return ArrayFiles(self.folder, self.prefix + prefix)

    def path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{self.prefix}{name}.npy"

    def empty(self, name: str, shape: Any, dtype: Any) -> np.ndarray:
        """A new array to fill: in memory, or its file mapped for writing."""
        if self.folder is None:
            return np.empty(shape, dtype)
        shape = (int(shape),) if np.ndim(shape) == 0 else tuple(shape)
        self.folder.mkdir(parents=True, exist_ok=True)
        array = np.lib.format.open_memmap(
            self.path(name), mode="w+", dtype=dtype, shape=shape
        )
        # The file is sparse until its pages are written back: on a full
        # disk that write-back kills the process (SIGBUS), where np.save
        # would have raised. Reserving the blocks now raises OSError
        # (ENOSPC) here instead.
        with open(self.path(name), "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            if size:
                os.posix_fallocate(f.fileno(), 0, size)
        return array

    def keep(self, name: str, array: np.ndarray) -> np.ndarray:
        """`array` as kept: itself in memory, or copied to its file a block
        at a time and mapped (its memory is freed once the caller drops it)."""
        array = np.asarray(array)
        if self.folder is None:
            return array
        out = self.empty(name, array.shape, array.dtype.newbyteorder("="))
        for start in range(0, array.shape[0] if array.ndim else 1, BLOCK_ROWS):
            out[start : start + BLOCK_ROWS] = array[start : start + BLOCK_ROWS]
        return out

    def gather(self, name: str, source: np.ndarray, picks: np.ndarray) -> np.ndarray:
        """source[picks] (along the first axis) as kept, a block at a time."""
        if self.folder is None:
            return np.ascontiguousarray(source[picks]).astype(
                source.dtype.newbyteorder("="), copy=False
            )
        out = self.empty(
            name, (picks.shape[0], *source.shape[1:]), source.dtype.newbyteorder("=")
        )
        for start in range(0, picks.shape[0], BLOCK_ROWS):
            out[start : start + BLOCK_ROWS] = source[picks[start : start + BLOCK_ROWS]]
        return out


IN_MEMORY = ArrayFiles()


def save_array(path: Path, array: np.ndarray) -> None:
    """np.save, unless `array` is that very file mapped (built into files):
    then its pages are flushed and the file stays as written."""
    if isinstance(array, np.memmap) and array.filename is not None:
        if Path(array.filename).resolve() == path.resolve():
            array.flush()
            return
    np.save(path, array)
