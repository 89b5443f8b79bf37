"""Writing a new blob file past the page cache (O_DIRECT), for the bulk of an add.

A buffered write puts every byte in the page cache first: a 1 GB add takes 1 GB of fresh memory
and pushes out as much of what the machine had cached, for blobs nobody reads back soon. On a
virtual machine whose balloon hands freed memory back to the host, that fresh memory is also
slow to get: writing 1.25 GB took 2.9-3.3 s buffered and 0.5-0.8 s direct on this project's
machines. Writes go through one page-aligned buffer; the tail is padded to a whole block and the
file cut back to its length. Where the file system refuses direct I/O (some network and FUSE file
systems, tmpfs before Linux 6.6) the file falls back to ordinary writes. The price: the add waits
for the device (1.6-2.6 GB/s here; a spinning disk is far slower), where a buffered write returns
before the bytes are on disk, and is no safer for it until they are.
"""

from __future__ import annotations

import errno
import mmap
import os
from typing import Any

_ALIGN = 4096  # covers the logical block size of every common device
_O_DIRECT = getattr(os, "O_DIRECT", 0)


class DirectAppender:
    """Appends bytes to a new file; ``close`` finishes it at exactly the bytes written, ``abort``
    just lets it go (the caller removes the file). Either may be called more than once."""

    def __init__(self, path: str, buffer_bytes: int = 4 << 20) -> None:
        self.path = path
        self.size = 0
        self._fill = 0
        self._direct = bool(_O_DIRECT)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            self._fd = os.open(path, flags | _O_DIRECT, 0o644)
        except OSError as exc:
            if not self._direct or exc.errno != errno.EINVAL:  # EINVAL: this file system takes no direct I/O
                raise
            self._direct = False
            self._fd = os.open(path, flags, 0o644)
        self._buf = mmap.mmap(-1, buffer_bytes)  # anonymous maps are page-aligned

    @property
    def direct(self) -> bool:
        return self._direct

    def write(self, data: Any) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path} is closed")
        mv = memoryview(data).cast("B")
        cap = len(self._buf)
        while mv:
            n = min(len(mv), cap - self._fill)
            self._buf[self._fill : self._fill + n] = mv[:n]
            self._fill += n
            mv = mv[n:]
            if self._fill == cap:
                self._flush(cap)
                self.size += cap
                self._fill = 0

    @property
    def written(self) -> int:
        """Bytes appended so far (written out or still buffered)."""
        return self.size + self._fill

    def drop_to(self, mark: int) -> bool:
        """Forget what was appended after ``mark`` (a ``written`` value), if it is all still in
        the buffer; False (and nothing dropped) when part of it was written out already."""
        if not self.size <= mark <= self.written:
            return False
        self._fill = mark - self.size
        return True

    def read_from(self, f: Any, n: int, seen: Any) -> int:
        """Append up to ``n`` bytes read from the unbuffered binary file ``f`` straight into the
        write buffer, handing each stretch to ``seen`` (a hash's ``update``) as it arrives: no
        bytes object is made and nothing is copied twice. Returns how many were read (fewer at
        the file's end)."""
        if self._fd < 0:
            raise ValueError(f"{self.path} is closed")
        cap = len(self._buf)
        got = 0
        while got < n:
            view = memoryview(self._buf)[self._fill : self._fill + min(n - got, cap - self._fill)]
            try:
                k = f.readinto(view)
                if k:
                    seen(view[:k])
            finally:
                view.release()
            if not k:
                break
            got += k
            self._fill += k
            if self._fill == cap:
                self._flush(cap)
                self.size += cap
                self._fill = 0
        return got

    def close(self) -> None:
        """Write what is buffered and close; the file then holds exactly what was written."""
        if self._fd < 0:
            return
        try:
            if self._fill:
                whole = -(-self._fill // _ALIGN) * _ALIGN
                self._buf[self._fill : whole] = bytes(whole - self._fill)
                self._flush(whole)
                self.size += self._fill
                self._fill = 0
                os.ftruncate(self._fd, self.size)
        finally:
            self.abort()

    def abort(self) -> None:
        """Close without writing what is buffered."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        try:
            os.close(fd)
        finally:
            self._buf.close()

    def _flush(self, n: int) -> None:
        view = memoryview(self._buf)[:n]
        try:
            done = 0
            while done < n:
                chunk = view[done:]
                try:  # released here, so a traceback holding it cannot keep the buffer from closing
                    done += self._write(chunk)
                finally:
                    chunk.release()
        finally:
            view.release()

    def _write(self, view: memoryview) -> int:
        try:
            return os.write(self._fd, view)
        except OSError as exc:
            if not self._direct or exc.errno != errno.EINVAL:
                raise
            import fcntl

            fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~_O_DIRECT)
            self._direct = False
            return os.write(self._fd, view)
