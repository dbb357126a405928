"""Raw access to a generation's append-only files: positioned reads, nothing mapped or cached."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import IndexClosedError, IndexCorruptError


class Blob:
    """Positioned reads from a file that only ever grows (no mapping: RSS stays what is read)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDONLY) if path.exists() else None
        self._closed = False

    def read(self, start: int, end: int) -> bytes:
        if end <= start:
            return b""
        fd = self._fd
        if fd is None:
            if self._closed:
                raise IndexClosedError(f"{self.path} wurde geschlossen (der Index wurde ersetzt)")
            raise IndexCorruptError(f"{self.path} fehlt")
        data = os.pread(fd, end - start, start)
        if len(data) != end - start:
            raise IndexCorruptError(f"{self.path} ist kürzer als erwartet")
        return data

    def close(self) -> None:
        """Close the file; reads afterwards raise :class:`IndexClosedError`."""
        fd, self._fd, self._closed = getattr(self, "_fd", None), None, True
        if fd is not None:
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class VectorFile:
    """Rows of ``vectors.f32`` read on demand (``read(a, b)`` -> array of shape (b - a, dim))."""

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim

    def read(self, start: int, end: int) -> np.ndarray:
        count = max(end - start, 0) * self.dim
        data = np.fromfile(self.path, dtype=np.float32, count=count, offset=start * self.dim * 4)
        if data.size != count:
            raise IndexCorruptError(f"{self.path} ist kürzer als erwartet")
        return data.reshape(-1, self.dim)


class TokenFile:
    """``tokens.i32`` sliced like an array (``ids[a:b]``), read on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __getitem__(self, part: slice) -> np.ndarray:
        start, stop = int(part.start or 0), int(part.stop)
        return np.fromfile(self.path, dtype=np.int32, count=max(stop - start, 0), offset=start * 4)
