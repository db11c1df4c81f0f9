"""JSON files that several processes share: written atomically, stamped with a format number, read back
as typed dataclasses.

``to_json(record, version)`` gives a dataclass record's JSON object with ``"format": version``;
``check_format(data, version)`` refuses another format with ``FormatMismatch`` (which says older or
newer); ``parse(kind, data)`` validates the rest as `kind`, with a ValueError naming the first field
that does not fit. ``write_json_atomically`` replaces a file so that a reader never sees half of it.

Light module: the standard library at import time (pydantic on the first parse).
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["FormatMismatch", "check_format", "parse", "to_json", "write_json_atomically"]

T = TypeVar("T")


class FormatMismatch(ValueError):
    """A file written in another format than this harness reads."""

    def __init__(self, found: object, expected: int) -> None:
        self.found = found
        self.expected = expected
        self.newer = isinstance(found, int) and not isinstance(found, bool) and found > expected
        if self.newer:
            text = f"written in format {found} by a newer harness; this one reads format {expected}"
        else:
            shown = "none" if found is None else repr(found)
            text = f"written by an older harness (format {shown}); this one reads format {expected}"
        super().__init__(text)


def check_format(data: dict[str, Any], expected: int) -> dict[str, Any]:
    """`data` without its "format" key, or FormatMismatch when that is not `expected`."""
    found = data.get("format")
    if found != expected or isinstance(found, bool):
        raise FormatMismatch(found, expected)
    return {key: value for key, value in data.items() if key != "format"}


@functools.cache
def _adapter(kind: type[Any]) -> Any:
    import pydantic  # only where a file is parsed: the emulator imports the formats' modules early

    return pydantic.TypeAdapter(kind)


def parse(kind: type[T], data: object) -> T:
    """`data` validated as `kind` (a dataclass); ValueError naming the first field that does not fit."""
    import pydantic

    try:
        return _adapter(kind).validate_python(data)  # type: ignore[no-any-return]
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"field {place}: {first['msg']}") from None


def to_json(record: object, version: int) -> dict[str, Any]:
    """The JSON object of a dataclass record, stamped with its format `version`."""
    return {"format": version, **asdict(record)}  # type: ignore[call-overload]


def write_json_atomically(path: Path | str, data: Any) -> None:
    """Write `data` as JSON to `path` atomically (temporary file in the same directory, then replace).

    Creates the parent directory. Safe to call from several threads or processes at once: the last
    replace wins and readers see either the old or the new file, never a mix.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        now = time.time_ns()  # a fine-grained mtime: the file system's clock may tick only every few ms
        os.utime(tmp, ns=(now, now))
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
