"""File-permission helper shared by the modules that write atomically.

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


@contextmanager
def replace_atomically(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` when the block succeeds.

    The finished file gets :func:`give_default_permissions`.  If the block
    raises (Ctrl-C included), the temporary file is removed and ``target`` is
    left as it was, so a reader never sees a half-written file.
    """
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        give_default_permissions(tmp)
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)  # gone already after a successful replace
