"""One output-path policy for every command, checked before any expensive work.

A named output (an export, a comparison, a screenshot) is a regular file: an existing one is replaced
only with --force, and nothing else is ever replaced (a folder, a device such as /dev/full, a FIFO, a
symbolic link such as /dev/stdout). No output lands inside a run folder, whose files are the run's own.
A run folder (--out of profile, analyze, sweep) is a new or empty folder. Missing parents are created;
anything that cannot be is one line.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from kernelscope.errors import KernelscopeError
from kernelscope.runs.store import MANIFEST


def check_output_file(path: Path, force: bool) -> None:
    """`path` may be written (by an atomic rename beside it): see the module's policy."""
    run = enclosing_run(path)
    if run is not None:
        raise KernelscopeError(f"{path} is inside the run folder {run}: its files are the run's own; write "
                               "the output elsewhere")
    try:
        mode = os.lstat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):  # absent (a file in its path: said by ensure_folder)
        mode = None
    except OSError as exc:
        raise KernelscopeError(f"cannot check {path}: {exc.strerror}") from None
    if mode is not None:
        if stat.S_ISLNK(mode):
            raise KernelscopeError(f"{path} is a symbolic link; kernelscope replaces only regular files")
        if not stat.S_ISREG(mode):
            kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
            raise KernelscopeError(f"{path} is {kind}; kernelscope replaces only regular files")
        if not force:
            raise KernelscopeError(f"{path} exists; pass --force to overwrite it")
    ensure_folder(path.parent)


def check_run_folder(path: Path) -> None:
    """`path` may become a run folder: absent, or an empty folder."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise KernelscopeError(f"{path} exists and is not a folder; give a new --out")
    if path.is_dir():
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            raise KernelscopeError(f"cannot read {path}: {exc.strerror}") from None
        if not empty:
            raise KernelscopeError(f"{path} exists and is not empty; choose another --out")
    ensure_folder(path.parent)


def ensure_folder(folder: Path) -> None:
    """`folder` exists and can be written in (created with its parents if missing), or one line why not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise KernelscopeError(f"{folder} exists and is not a folder") from None
    except OSError as exc:
        raise KernelscopeError(f"cannot create the folder {folder}: {exc.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise KernelscopeError(f"cannot write in {folder}: permission denied")


def enclosing_run(path: Path) -> Path | None:
    """The run folder `path` would be inside (a folder holding a manifest.json), if any."""
    for folder in path.absolute().parents:
        if (folder / MANIFEST).is_file():
            return folder
    return None
