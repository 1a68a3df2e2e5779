"""Binary media shared by images and audio: type sniffing, input coercion, a result base.

Workers AI rarely says what it sent back (flux-1-schnell's base64 is JPEG although nothing
declares it, melotts answers JSON or raw MP3), so the type is read from the bytes' magic
numbers, never assumed from the model.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workersai.errors import InvalidInputError

__all__ = ["MediaData", "Multipart", "read_media", "sniff_mime"]

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/ogg": ".ogg",
    "audio/flac": ".flac",
    "audio/webm": ".webm",
    "audio/mp4": ".m4a",
    "audio/aac": ".aac",
}
_MIME_BY_EXTENSION = {ext: mime for mime, ext in _EXTENSIONS.items()} | {
    ".jpeg": "image/jpeg",
    ".mp4": "audio/mp4",
    ".mpga": "audio/mpeg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
}


def sniff_mime(data: bytes) -> str | None:
    """The media type of ``data`` from its magic number (images and audio), else ``None``."""
    head = bytes(data[:16])
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"BM") and len(data) > 26:
        return "image/bmp"
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"fLaC"):
        return "audio/flac"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "audio/webm"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    if len(head) >= 2 and head[0] == 0xFF:
        # MPEG audio frame sync: 11 set bits; 0xF0/0xF1/0xF9 with layer bits 00 are ADTS (AAC).
        if head[1] & 0xF6 == 0xF0:
            return "audio/aac"
        if head[1] & 0xE0 == 0xE0:
            return "audio/mpeg"
    return None


def extension_for(mime_type: str) -> str:
    """File extension for a media type (``.bin`` when unknown)."""
    return _EXTENSIONS.get(mime_type, ".bin")


def mime_for_path(path: str | os.PathLike[str]) -> str | None:
    """Media type implied by a file name's extension."""
    return _MIME_BY_EXTENSION.get(Path(path).suffix.lower())


def _decode_data_uri(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep or ";base64" not in header:
        raise InvalidInputError("a data URI must be base64-encoded ('data:<type>;base64,...')")
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError(f"invalid base64 in data URI: {exc}") from None


def read_media(value: Any, what: str = "media") -> bytes:
    """Bytes from bytes-like objects, file paths, ``data:`` URIs, file objects and results.

    Raises:
        InvalidInputError: naming ``what`` when the value is none of those, a path does not
            exist, or it is empty.
    """
    if isinstance(value, MediaData):
        data = value.data
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    elif isinstance(value, str) and value.startswith("data:"):
        data = _decode_data_uri(value)
    elif isinstance(value, (str, os.PathLike)):
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise InvalidInputError(
                f"{what} URLs are not fetched: Workers AI needs the bytes",
                hint="Download it first (httpx.get(url).content) and pass the bytes.",
            )
        path = Path(value)
        if not path.is_file():
            raise InvalidInputError(f"{what} file not found: {path}")
        data = path.read_bytes()
    elif hasattr(value, "read"):
        data = value.read()
        if not isinstance(data, bytes):
            raise InvalidInputError(f"{what} file objects must be opened in binary mode ('rb')")
    else:
        raise InvalidInputError(
            f"{what} must be bytes, a file path, a data URI or a binary file object, "
            f"not {type(value).__name__}"
        )
    if not data:
        raise InvalidInputError(f"{what} is empty")
    return data


@dataclass(frozen=True, slots=True, repr=False)
class MediaData:
    """Bytes plus their media type (the base of image and audio results)."""

    data: bytes
    mime_type: str
    model: str | None = None

    @property
    def base64(self) -> str:
        """The bytes as a base64 string."""
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_uri(self) -> str:
        """``data:<mime>;base64,...`` — for HTML, Markdown or a vision model's ``image_url``."""
        return f"data:{self.mime_type};base64,{self.base64}"

    @property
    def extension(self) -> str:
        """The usual file extension of :attr:`mime_type` (``.png``, ``.jpg``, ``.mp3``...)."""
        return extension_for(self.mime_type)

    def __len__(self) -> int:
        return len(self.data)

    def __bytes__(self) -> bytes:
        return self.data

    def _write(self, path: str | os.PathLike[str]) -> Path:
        target = Path(path)
        if target.is_dir():
            raise InvalidInputError(f"{target} is a directory: pass a file name")
        if not target.suffix:
            target = target.with_suffix(self.extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.data)
        return target

    def _size_text(self) -> str:
        size = len(self.data)
        return f"{size / 1024:.1f} kB" if size >= 1024 else f"{size} B"


@dataclass(frozen=True, slots=True)
class Multipart:
    """A ``multipart/form-data`` body (FLUX.2 models take their input this way).

    Values are strings, bytes, or ``(filename, bytes, content_type)`` tuples for files.
    The boundary is derived from the content, so the same form always encodes to the same
    bytes (retries and recorded cassettes match byte for byte).

    Example:
        >>> client.run("@cf/black-forest-labs/flux-2-klein-9b",
        ...            Multipart({"prompt": "a sunset at the alps", "width": "1024"}))
    """

    fields: Mapping[str, str | bytes | tuple[str, bytes, str]]

    def encode(self) -> tuple[bytes, str]:
        """``(body, content_type)``, encoded once so retries re-send identical bytes."""
        try:
            return self._encode()
        except UnicodeEncodeError:
            raise InvalidInputError(
                "A form field holds text that is not valid Unicode (a lone surrogate) and "
                "cannot be sent as UTF-8.",
                hint="Decode bytes with errors='replace' (not 'surrogateescape').",
            ) from None

    def _encode(self) -> tuple[bytes, str]:
        parts: list[tuple[bytes, bytes]] = []
        digest = hashlib.sha256()
        for name, value in self.fields.items():
            disposition = f'form-data; name="{_quote(name)}"'
            if isinstance(value, tuple):
                filename, data, content_type = value
                disposition += f'; filename="{_quote(filename)}"'
                head = f"Content-Disposition: {disposition}\r\nContent-Type: {content_type}"
            elif isinstance(value, (bytes, bytearray)):
                data = bytes(value)
                disposition += f'; filename="{_quote(name)}"'
                head = f"Content-Disposition: {disposition}\r\n"
                head += "Content-Type: application/octet-stream"
            else:
                data = str(value).encode("utf-8")
                head = f"Content-Disposition: {disposition}"
            encoded_head = head.encode("utf-8") + b"\r\n\r\n"
            parts.append((encoded_head, data))
            digest.update(encoded_head)
            digest.update(data)
        # Content-derived, so identical forms encode identically; a SHA-256 of the content
        # showing up inside that content is not a practical concern.
        boundary = f"workersai-{digest.hexdigest()[:32]}".encode("ascii")
        body = bytearray()
        for part_head, part_data in parts:
            body += b"--" + boundary + b"\r\n" + part_head + part_data + b"\r\n"
        body += b"--" + boundary + b"--\r\n"
        return bytes(body), f"multipart/form-data; boundary={boundary.decode('ascii')}"


def _quote(name: str) -> str:
    # The HTML form encoding rules (what browsers and httpx do) for names and file names.
    return name.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
