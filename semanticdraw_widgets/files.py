"""Reading and writing the package's small text files (scenes, palettes) without surprises.

- :func:`read_bytes_bounded` reads only regular files, at most ``max_bytes`` of them: ``/dev/zero``
  or a terminal is refused instead of read until memory runs out, and a FIFO is refused instead of
  blocking the kernel until something writes to it (it is opened non-blocking, then checked).
- :func:`write_text_atomic` encodes the whole text first and replaces the target only once the new
  file is complete, so a failure (text that cannot be encoded, a full disk) leaves the old file whole.
"""

from __future__ import annotations

import os
import stat
import tempfile

__all__ = ["read_bytes_bounded", "write_text_atomic"]


def read_bytes_bounded(path: str | os.PathLike[str], max_bytes: int, what: str, error: type[ValueError]) -> bytes:
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
    data = text.encode("utf-8")  # before touching the disk: an unencodable text changes nothing
    target = os.path.abspath(os.fspath(path))
    fd, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if os.path.exists(target):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        else:
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
