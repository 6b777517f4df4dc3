"""File helpers shared by the dataset sources: checksums, IDX parsing, cache directory."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np

CACHE_ENV = "IMBALANCED_CONTRASTIVE_DATA"


def cache_dir() -> Path:
    """The user cache for downloaded data: ``$IMBALANCED_CONTRASTIVE_DATA`` or
    ``~/.cache/imbalanced_contrastive``."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "imbalanced_contrastive"


def md5_of_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_of_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def read_maybe_gzip(path: Path) -> bytes:
    """The payload of ``path``, decompressed when it is gzip (by its magic bytes, not its name).

    Raises:
        ValueError: a truncated or corrupt gzip file (names the file).
    """
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as f:
                return f.read()
        except (EOFError, OSError, zlib.error) as err:  # BadGzipFile is an OSError
            raise ValueError(
                f"{path} is a truncated or corrupt gzip file ({err}); delete it and obtain it again"
            ) from err
    return Path(path).read_bytes()


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def parse_idx(payload: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse an IDX file (the MNIST / Fashion-MNIST format) into a numpy array.

    The header is two zero bytes, a type code, the number of dimensions, then one big-endian
    ``uint32`` per dimension.

    Raises:
        ValueError: if the header or the payload length is inconsistent (names ``source``).
    """
    if len(payload) < 4 or payload[0] != 0 or payload[1] != 0:
        raise ValueError(f"{source} is not an IDX file (bad magic number)")
    code, ndim = payload[2], payload[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{source} has an unsupported IDX type code {code:#x} or {ndim} dimensions")
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise ValueError(f"{source} is truncated inside its IDX header")
    shape = struct.unpack(f">{ndim}I", payload[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(payload) != expected:
        raise ValueError(
            f"{source} is truncated or padded: {len(payload)} bytes, expected {expected} for shape {shape}"
        )
    return np.frombuffer(payload, dtype=dtype, offset=header).reshape(shape).copy()


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> None:
    """Write ``array`` (uint8) as an IDX file; used by tests to make small real-format files."""
    arr = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.tobytes()
    if compress:
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        Path(path).write_bytes(data)
