"""Files written whole or not at all: a temporary name beside the target, renamed into place.

A reader (another command, a viewer, a crash) never sees half a file; a failed write leaves the
target as it was and removes its temporary file.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def publish(tmp: str, path: Path) -> None:
    """Give a finished temporary file the usual permissions and rename it into place."""
    os.chmod(tmp, _umask_mode())
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_target(path: Path, link: bool = False) -> Iterator[Path]:
    """A temporary path beside `path` to write; renamed onto `path` when the block ends without an
    error, removed otherwise. `link`: the temporary name is left free for os.link, and the file
    keeps its permissions (a hard link shares them with its source)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", dir=path.parent)
    os.close(fd)
    if link:
        os.unlink(tmp)
    try:
        yield Path(tmp)
        if link:
            os.replace(tmp, path)
        else:
            publish(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_target(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: Path, value: Any) -> None:
    atomic_write_bytes(path, (json.dumps(value, indent=2, sort_keys=False, default=str) + "\n").encode())


def atomic_copy_gzip(source: Path, target: Path) -> None:
    """Copy a trace into the run, gzip-compressed (kept as is if it is gzip already)."""
    with atomic_target(target) as tmp, source.open("rb") as src:
        if is_gzip(source):
            with open(tmp, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        else:
            with gzip.open(tmp, "wb", compresslevel=6) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def link_or_copy(source: Path, target: Path) -> None:
    with atomic_target(target, link=True) as tmp:
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
