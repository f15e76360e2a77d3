"""Byte streams of an image: digests verified while reading, decompression bounded.

A layer is read exactly once, through three stages:

    raw bytes --Blob (digest, size, byte limit)--> decoder (gzip | zstd | none)
              --Plain (diff_id, ratio, image budget, forward-only seek)--> tar parser

Nothing is buffered beyond one chunk, so memory does not grow with the layer. A digest
that does not match, a stream that ends early, or a bound crossed raises ImageError.
"""

from __future__ import annotations

import hashlib
import io
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, cast

import zstandard

from assessor.collectors.limits import Limits
from assessor.errors import ImageError

CHUNK = 1 << 20
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


def check_digest(digest: object, what: str) -> str:
    """A digest from a manifest or index: ``sha256:<64 hex>`` or ``sha512:<128 hex>`` only."""
    if not isinstance(digest, str) or not _DIGEST.match(digest):
        raise ImageError(f"{what}: invalid digest {str(digest)[:80]!r}")
    return digest


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def short(digest: str) -> str:
    return digest[:19]


@dataclass
class Budget:
    """What one image has used so far, across its layers."""

    limits: Limits
    uncompressed: int = 0
    entries: int = 0

    def add_bytes(self, n: int, what: str) -> None:
        self.uncompressed += n
        if self.uncompressed > self.limits.max_image_bytes:
            raise ImageError(
                f"{what}: image larger than max_image_bytes "
                f"({self.limits.max_image_bytes} bytes uncompressed)"
            )

    def add_entry(self, what: str) -> None:
        self.entries += 1
        if self.entries > self.limits.max_entries:
            raise ImageError(
                f"{what}: more than max_entries ({self.limits.max_entries}) files in the image"
            )


class Blob(io.RawIOBase):
    """Raw blob bytes, hashed and counted; verifies digest and size at the end of the stream.

    ``hashed=False`` (a whole docker-archive, whose own digest nobody asks for: its layers are
    verified one by one) counts and bounds the bytes without hashing them.
    """

    def __init__(
        self,
        read: Callable[[int], bytes],
        *,
        digest: str | None,
        size: int | None,
        limit: int,
        what: str,
        hashed: bool = True,
    ) -> None:
        super().__init__()
        self._read = read
        self.expected = digest
        self.expected_size = size
        self.limit = limit
        self.what = what
        algorithm = digest.partition(":")[0] if digest else "sha256"
        self._hash = hashlib.new(algorithm) if hashed or digest else None
        self.count = 0
        self.ended = False
        self.digest: str | None = None  # set once the stream has ended and verified (if hashed)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.ended:
            return 0
        want = len(buffer)
        if self.expected_size is not None:
            # never read past the declared size; a longer blob is a mismatch, checked below
            want = min(want, max(self.expected_size - self.count, 1))
        data = self._read(want)
        if not data:
            self._finish()
            return 0
        n = len(data)
        self.count += n
        if self.count > self.limit:
            raise ImageError(f"{self.what}: larger than max_layer_bytes ({self.limit} bytes)")
        if self.expected_size is not None and self.count > self.expected_size:
            raise ImageError(
                f"{self.what}: longer than the {self.expected_size} bytes its manifest declares"
            )
        if self._hash is not None:
            self._hash.update(data)
        buffer[:n] = data
        return n

    def _finish(self) -> None:
        if self.expected_size is not None and self.count != self.expected_size:
            raise ImageError(
                f"{self.what}: truncated: {self.count} of {self.expected_size} bytes "
                "declared by the manifest"
            )
        if self._hash is not None:
            got = f"{self._hash.name}:{self._hash.hexdigest()}"
            if self.expected is not None and got != self.expected:
                raise ImageError(f"{self.what}: digest mismatch: content is {short(got)}")
            self.digest = got
        self.ended = True

    def drain(self) -> None:
        """Read to the end so the digest is checked even when the consumer stopped early."""
        while self.readinto(bytearray(CHUNK)):
            pass


class _Zstd:
    """zstd frames decoded with bounded output: input is fed in small steps."""

    STEP = 512  # one step decodes to at most a few MiB, whatever the frame claims

    def __init__(self, src: Readable) -> None:
        self._zstd = zstandard
        self._src = src
        self._obj = zstandard.ZstdDecompressor().decompressobj()
        self._out = bytearray()
        self._pending = b""
        self._ended = False
        self._in_frame = False

    def read(self, size: int = CHUNK, /) -> bytes:
        while len(self._out) < size and not self._ended:
            data = self._pending or self._src.read(self.STEP)
            self._pending = b""
            if not data:
                if self._in_frame:
                    raise ImageError("zstd stream ended before the end of its frame")
                self._ended = True
                break
            try:
                self._out += self._obj.decompress(data)
            except self._zstd.ZstdError as e:
                raise ImageError(f"corrupt zstd data: {e}") from None
            self._in_frame = not self._obj.eof
            if self._obj.eof:
                rest = self._obj.unused_data
                self._obj = self._zstd.ZstdDecompressor().decompressobj()
                self._pending = rest
                self._in_frame = bool(rest)
        out = bytes(self._out[:size])
        del self._out[:size]
        return out


def decode_errors() -> tuple[type[Exception], ...]:
    """What the decompressors raise on corrupt input (none of them is an OSError)."""
    errors: list[type[Exception]] = [zlib.error, EOFError]
    try:
        from isal.isal_zlib import error as isal_error

        errors.append(cast("type[Exception]", isal_error))
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


# what a corrupt layer or archive raises from the decoders and tarfile
CORRUPT: tuple[type[Exception], ...] = (OSError, ValueError, RuntimeError, *decode_errors())


def decoder(blob: Blob) -> tuple[str, Readable]:
    """Pick the decoder from the stream's first bytes: gzip, zstd, or a plain tar."""
    buffered = io.BufferedReader(blob, CHUNK)
    head = buffered.peek(4)[:4]
    if head.startswith(GZIP_MAGIC):
        try:
            from isal import igzip

            return "gzip", igzip.IGzipFile(fileobj=buffered, mode="rb")  # type: ignore[no-untyped-call]
        except ImportError:  # pragma: no cover - isal is a dependency; zlib still works
            import gzip

            return "gzip", gzip.GzipFile(fileobj=buffered, mode="rb")
    if head.startswith(ZSTD_MAGIC):
        return "zstd", _Zstd(buffered)
    return "none", buffered


class Plain:
    """The uncompressed layer: hashed (diff_id), bounded, seekable forward only for tarfile.
    ``hashed=False``: a docker-archive's whole stream, which has no diff_id to check."""

    def __init__(
        self, src: Readable, blob: Blob, budget: Budget, what: str, hashed: bool = True
    ) -> None:
        self._src = src
        self._blob = blob
        self._budget = budget
        self._limits = budget.limits
        self.what = what
        self._hash = hashlib.sha256() if hashed else None
        self.pos = 0  # bytes handed to the consumer
        self.mode = "rb"
        # read ahead in large chunks: tar headers are read 512 bytes at a time
        self._buf = b""
        self._off = 0
        self._decoded = 0  # bytes taken from the decoder (and hashed, and counted)

    @property
    def diff_id(self) -> str:
        assert self._hash is not None, "diff_id of a stream read with hashed=False"
        return f"sha256:{self._hash.hexdigest()}"

    def _fill(self) -> bool:
        data = self._src.read(CHUNK)
        if not data:
            return False
        n = len(data)
        self._decoded += n
        if self._hash is not None:
            self._hash.update(data)
        self._budget.add_bytes(n, self.what)
        floor = self._limits.ratio_floor
        if self._decoded > floor and self._decoded > self._limits.max_ratio * max(
            self._blob.count, 1
        ):
            raise ImageError(
                f"{self.what}: decompresses more than max_ratio "
                f"({self._limits.max_ratio}:1); a compression bomb?"
            )
        self._buf = self._buf[self._off :] + data if self._off < len(self._buf) else data
        self._off = 0
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            size = CHUNK
        while len(self._buf) - self._off < size and self._fill():
            pass
        out = self._buf[self._off : self._off + size]
        self._off += len(out)
        self.pos += len(out)
        return out

    def tell(self) -> int:
        return self.pos

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.pos
        elif whence != 0:
            raise ImageError(f"{self.what}: the tar reader asked to seek from the end")
        if pos < self.pos:
            raise ImageError(f"{self.what}: the tar reader asked to seek backwards")
        while self.pos < pos:  # skip: consume the buffer, never copy it
            available = len(self._buf) - self._off
            if available == 0:
                if not self._fill():
                    raise ImageError(f"{self.what}: layer ended inside a file's data (truncated)")
                continue
            step = min(available, pos - self.pos)
            self._off += step
            self.pos += step
        return self.pos

    def rest_is_zero(self, limit: int | None = None) -> bool:
        """After the tar end marker only zero padding (at most ``limit`` bytes) may follow;
        reads to the end, or until the padding is longer than ``limit``."""
        seen = 0
        while chunk := self.read(CHUNK):
            seen += len(chunk)
            if chunk.count(0) != len(chunk) or (limit is not None and seen > limit):
                return False
        return True


def iter_reader(chunks: Iterator[bytes]) -> Callable[[int], bytes]:
    """A ``read(n)`` over an iterator of byte chunks (an HTTP response body)."""
    buf = bytearray()
    ended = False

    def read(n: int) -> bytes:
        nonlocal ended
        while len(buf) < n and not ended:
            try:
                buf.extend(next(chunks))
            except StopIteration:
                ended = True
        out = bytes(buf[:n])
        del buf[:n]
        return out

    return read
