"""Reading and writing the package's files (scenes, palettes, pictures, animations) without surprises.

- :func:`read_bytes_bounded` reads only regular files, at most ``max_bytes`` of them: ``/dev/zero``
  or a terminal is refused instead of read until memory runs out, and a FIFO is refused instead of
  blocking the kernel until something writes to it (it is opened non-blocking, then checked).
- :func:`write_text_atomic` encodes the whole text first and replaces the target only once the new
  file is complete, so a failure (text that cannot be encoded, a full disk) leaves the old file whole.
- :func:`write_bytes_atomic` does the same for bytes already encoded (a PNG, a GIF), and
  :func:`replacing` for writers that need a path (an MP4 encoder): they write a temporary file beside
  the target, renamed over it only when the writer finished; folders created for the file are
  removed again when the write fails, so a failure leaves no debris.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["read_bytes_bounded", "write_text_atomic", "write_bytes_atomic", "replacing", "missing_folders"]


def read_bytes_bounded(path: str | os.PathLike[str], max_bytes: int, what: str, error: type[Exception]) -> bytes:
    """The bytes of the regular file ``path``; ``error`` (naming ``what``) if it is no such file or too large."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise error(f"{name}: no such file; check the path") from None
    except OSError as exc:
        raise error(f"{name}: cannot open the {what} ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fh.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{name}: not a regular file (a device, pipe or folder); pass the path of a saved {what}")
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{name}: more than {max_bytes:,} bytes is too large for a {what}; check that this is the "
                    "right file")
    return data


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` as UTF-8 to ``path``, replacing it only when the new file is complete."""
    write_bytes_atomic(path, text.encode("utf-8"))  # encoded first: an unencodable text changes nothing


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path``, replacing it only when the new file is complete."""
    with replacing(path) as temporary:
        with open(temporary, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; renamed over ``path`` when the block ends without error.

    Missing parent folders are created, and removed again (with the temporary file) when the block
    raises, so a failed write leaves the old file, or nothing, where it was.
    """
    target = Path(os.path.abspath(os.fspath(path)))
    created = _make_parents(target.parent)
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}")
        # the target's extension last: writers such as ffmpeg choose the container by it
        os.close(fd)
        temporary = Path(name)
        try:
            yield temporary
            if target.exists():
                os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
            else:
                os.chmod(temporary, 0o666 & ~_umask())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except BaseException:
        for folder in reversed(created):  # innermost first; only the ones this call made, only if empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def missing_folders(folder: Path) -> tuple[Path, list[Path]]:
    """The nearest folder of ``folder``'s line that exists (itself if it does), and the missing ones below
    it, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return folder, missing[::-1]


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; the ones created, outermost first."""
    _, missing = missing_folders(folder)
    made: list[Path] = []
    try:
        for each in missing:
            each.mkdir()
            made.append(each)
    except BaseException:
        for each in reversed(made):
            with contextlib.suppress(OSError):
                each.rmdir()
        raise
    return made


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
