"""The head of an HTTP/1.1 message, read from a buffer: what the bare-protocol sink and
load generator need, and nothing more (they stay off any framework to cost little CPU)."""

from __future__ import annotations


def read_head(buffer: bytearray, end: int) -> tuple[bytes, dict[bytes, bytes]]:
    """The start line of the head ending at ``end`` and its fields by lower-case name."""
    lines = bytes(buffer[:end]).split(b"\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return lines[0], fields
