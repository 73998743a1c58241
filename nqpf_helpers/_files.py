"""File-permission and atomic-write helpers shared by the modules that write atomically.

``tempfile.mkstemp`` and ``mkdtemp`` create private (0600/0700) entries, which is
right while the content is being written but wrong for the finished result: a map
or CSV renamed into place should get the permissions an ordinary ``open(..., "w")``
or ``mkdir`` would have given it, so that a web server or a colleague can read it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def give_default_permissions(path: str | os.PathLike[str], *, directory: bool = False) -> None:
    """Set ``path`` to 0666 (files) or 0777 (folders) minus the umask, as if newly created."""
    os.chmod(Path(path), (0o777 if directory else 0o666) & ~current_umask())


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a file's content to the disk (``fsync``), so a rename cannot expose an empty file after a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_directory(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename into it) to the disk where the system supports it.

    POSIX systems do; Windows cannot open a folder for ``fsync``, and some file
    systems refuse it; there the rename is as durable as the system makes it.
    """
    if os.name == "nt":  # pragma: no cover - no directory handles to fsync on Windows
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # pragma: no cover - a file system without directory opens
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - e.g. EINVAL on file systems that do not support it
        pass
    finally:
        os.close(fd)


@contextmanager
def replace_atomically(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when the block succeeds.

    The finished file gets :func:`give_default_permissions`, is flushed to the
    disk (:func:`fsync_file`) before the rename, and the folder is flushed
    (:func:`fsync_directory`) after it, so that after a crash or power cut the
    target is either the old file or the complete new one.  If the block raises
    (Ctrl-C included), the temporary file is removed and ``target`` is left as it
    was, so a reader never sees a half-written file.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        give_default_permissions(tmp)
        if Path(tmp).is_file():  # a block may replace the file by a folder (a map's asset tree)
            fsync_file(tmp)
        os.replace(tmp, target)
        fsync_directory(target.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already after a successful replace
