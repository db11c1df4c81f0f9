"""S3 keys for attachments: `attachments/<message uuid>/<index>-<sanitised file name>`.

The sender chooses file names, so nothing of theirs may steer the key: directory parts are dropped,
only `[A-Za-z0-9._-]` survives, leading dots go (no `..`), and the length is capped.
"""

from __future__ import annotations

import mimetypes
import re
import unicodedata
from uuid import UUID

MAX_NAME_LENGTH = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_EXTENSION = re.compile(r"[A-Za-z0-9]{1,10}")


def _extension_for(content_type: str) -> str:
    return mimetypes.guess_extension(content_type, strict=False) or ".bin"


def _ascii(text: str) -> str:
    return _UNSAFE.sub("_", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii"))


def safe_file_name(filename: str | None, content_type: str) -> str:
    """A file name safe to use as the last segment of an S3 key."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    stem = _ascii(stem).strip("._-")
    extension = _ascii(extension).strip("._-")
    if not _EXTENSION.fullmatch(extension):
        stem, extension = "_".join(filter(None, (stem, extension))), ""
    if not stem:
        stem = "attachment"
        extension = extension or _extension_for(content_type).lstrip(".")
    stem = stem[: MAX_NAME_LENGTH - len(extension) - 1]
    return f"{stem}.{extension}" if extension else stem


def attachment_key(message_id: UUID, index: int, filename: str | None, content_type: str) -> str:
    return f"attachments/{message_id}/{index}-{safe_file_name(filename, content_type)}"
