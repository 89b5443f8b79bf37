"""Listing the files an add takes: a file, or every regular file under a folder."""

from __future__ import annotations

import errno
import operator
import os
import stat
from functools import partial
from pathlib import Path
from typing import NamedTuple

from ondo.datasets.rows import ROW_FORMATS, format_of
from ondo.errors import InvalidInput

_BY_FD = os.listdir in os.supports_fd and os.stat in os.supports_dir_fd and hasattr(os, "O_DIRECTORY")
# Folders that are tool state, never data.
SKIP_DIRS = frozenset({".git", ".dvc", ".ondo", "__pycache__", ".ipynb_checkpoints"})


class ScannedFile(NamedTuple):  # a tuple: a re-add lists 10,000 files before anything else
    abs: str  # absolute path, the stat cache key
    rel: str  # path inside the version, '/'-separated
    st: os.stat_result  # taken before the file is read
    fmt: str | None  # row format, None when stored whole


def scan(root: Path, skip: Path | None = None) -> list[ScannedFile]:
    """Files under ``root`` sorted by relative path; ``skip`` (the ondo home) is never entered."""
    if root.is_file():
        _check_utf8([root.name], str(root.parent) + os.sep)
        return [ScannedFile(str(root), root.name, root.stat(), format_of(root.name))]
    out: list[ScannedFile] = []
    skip_s = str(skip) if skip is not None else None
    stack = [str(root)]
    base = len(str(root).rstrip(os.sep)) + 1
    is_reg, is_dir, stat_of = stat.S_ISREG, stat.S_ISDIR, os.stat
    make = tuple.__new__  # a NamedTuple's own constructor costs a Python call per file
    while stack:
        folder = stack.pop()
        prefix = folder[base:].replace(os.sep, "/") + "/" if len(folder) >= base else ""
        at = folder.rstrip(os.sep) + os.sep
        # listed through a descriptor, each name is stat'ed in its folder instead of by its whole
        # path (the kernel walks one component, not all of them), and a plain list of names costs
        # less than scandir's entries: 36 ms for 10,000 files, not 42
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY) if _BY_FD else None
        except OSError as exc:
            raise InvalidInput(f"cannot list this folder: {exc.strerror}", file=folder) from None
        names: list[str] = []
        try:
            names = os.listdir(folder if fd is None else fd)
            _check_utf8(names, at)
            stats = map(partial(stat_of, dir_fd=fd), names) if fd is not None else (stat_of(at + n) for n in names)
            for name, st in zip(names, stats, strict=True):
                mode = st.st_mode
                if is_dir(mode):
                    if name not in SKIP_DIRS and at + name != skip_s:
                        stack.append(at + name)
                elif is_reg(mode):
                    # most names are not row files: one dict lookup tells, before format_of's rules
                    fmt = format_of(name) if name[name.rfind(".") :].lower() in ROW_FORMATS else None
                    out.append(make(ScannedFile, (at + name, prefix + name, st, fmt)))
        except OSError as exc:
            raise _unreadable(exc, names, at) from None
        finally:
            if fd is not None:
                os.close(fd)
    out.sort(key=_BY_REL)
    return out


_BY_REL = operator.itemgetter(1)  # ScannedFile.rel, without a Python call per file


def _check_utf8(names: list[str], at: str) -> None:
    """Refuse a name that is not valid UTF-8 (the system hands its bytes over as surrogates): a
    version's paths are JSON text. One check for a folder's names; the culprit is found only then."""
    try:
        "/".join(names).encode()
    except UnicodeEncodeError:
        bad = next(n for n in names if not _is_utf8(n))
        shown = (at + bad).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise InvalidInput("file name is not valid UTF-8; rename it", file=shown) from None


def _is_utf8(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unreadable(exc: OSError, names: list[str], at: str) -> InvalidInput:
    """The error for a name in this folder that cannot be stat'ed (a broken symbolic link, a link
    loop, a file removed while its folder was listed), found again by name: this runs only after a
    listing failed, so the listing itself pays nothing per file for it."""
    for name in names:
        path = at + name
        try:
            os.stat(path)
        except OSError as e:
            exc = e
            break
    else:
        return InvalidInput(f"cannot list this folder: {exc.strerror}", file=at)
    if exc.errno == errno.ENOENT and os.path.islink(path):
        why = f"a symbolic link to nothing (it points to {os.readlink(path)})"
    elif exc.errno == errno.ELOOP:
        why = "a loop of symbolic links"
    elif exc.errno == errno.ENOENT:
        why = "it disappeared while its folder was listed"
    else:
        why = f"cannot read it: {exc.strerror}"
    return InvalidInput(f"cannot add {name}: {why}", file=path)
