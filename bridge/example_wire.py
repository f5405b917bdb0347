"""Protobuf wire format of ``tf.train.Example``, written by hand (the encoder's building blocks).

`bridge.codec`'s encoder assembles records from these pieces instead of building protobuf
messages. Every piece follows the protobuf encoding rules for the messages in
`bridge/protos/tf_example.proto`.
"""

from __future__ import annotations

from collections.abc import Callable

from bridge.schema import FeatureKind

__all__ = [
    "FEATURE_TAGS",
    "ONE_BYTE_VARINTS",
    "TAG1",
    "TAG2",
    "TAG3",
    "delimited",
    "entry_prefix",
    "example",
    "feature",
    "map_entry",
    "prefix_table",
    "varint",
]

# Protobuf tags of length-delimited fields 1, 2 and 3: (field_number << 3) | 2.
TAG1 = b"\x0a"
TAG2 = b"\x12"
TAG3 = b"\x1a"
# Feature.kind oneof: bytes_list = 1, float_list = 2, int64_list = 3.
FEATURE_TAGS = {FeatureKind.BYTES: TAG1, FeatureKind.FLOAT: TAG2, FeatureKind.INT64: TAG3}

ONE_BYTE_VARINTS = tuple(bytes((i,)) for i in range(128))


def varint(value: int) -> bytes:
    """Base-128 varint; negative values as 10-byte two's complement, as protobuf int64 does."""
    if value < 0:
        return negative_varint(value)
    if value < 0x80:
        return ONE_BYTE_VARINTS[value]
    if value < 0x4000:
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def negative_varint(value: int) -> bytes:
    """The 10-byte varint of a negative int64, unrolled: negative values are common in dates."""
    u = value + (1 << 64)
    return bytes(
        (
            (u & 0x7F) | 0x80,
            (u >> 7 & 0x7F) | 0x80,
            (u >> 14 & 0x7F) | 0x80,
            (u >> 21 & 0x7F) | 0x80,
            (u >> 28 & 0x7F) | 0x80,
            (u >> 35 & 0x7F) | 0x80,
            (u >> 42 & 0x7F) | 0x80,
            (u >> 49 & 0x7F) | 0x80,
            (u >> 56 & 0x7F) | 0x80,
            u >> 63,
        )
    )


def delimited(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag, the payload's length as a varint, the payload."""
    return tag + varint(len(payload)) + payload


def feature(kind: FeatureKind, payload: bytes) -> bytes:
    """A ``Feature`` message whose list holds ``payload``.

    For int64 and float lists ``payload`` is the packed values; for bytes lists it is the
    already delimited ``value`` fields. An empty payload still sets the oneof (empty list).
    """
    if kind is FeatureKind.BYTES:
        inner = payload
    else:
        inner = delimited(TAG1, payload) if payload else b""
    return delimited(FEATURE_TAGS[kind], inner)


def map_entry(key_field: bytes, feature: bytes) -> bytes:
    """One ``Features.feature`` map entry: key (field 1) and value (field 2)."""
    return delimited(TAG1, key_field + delimited(TAG2, feature))


def entry_prefix(key_field: bytes, kind: FeatureKind, payload_len: int) -> bytes:
    """Every byte of a one-list int64 or float map entry before its packed payload.

    The payload comes last in the entry, and every length before it depends only on
    ``payload_len``, so this prefix is the same for all payloads of that length.
    """
    entry = map_entry(key_field, feature(kind, b"\x00" * payload_len))
    return entry[: len(entry) - payload_len]


def prefix_table(key_field: bytes, kind: FeatureKind) -> Callable[[int], bytes]:
    """`entry_prefix` by payload length, memoized for the lengths seen (up to a bound)."""
    cache: dict[int, bytes] = {}

    def prefix(payload_len: int) -> bytes:
        found = cache.get(payload_len)
        if found is None:
            found = entry_prefix(key_field, kind, payload_len)
            if len(cache) < 1024:
                cache[payload_len] = found
        return found

    return prefix


def example(body: bytes) -> bytes:
    """An ``Example`` whose ``features`` holds the concatenated map entries ``body``."""
    return TAG1 + varint(len(body)) + body
