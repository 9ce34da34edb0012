"""Kafka RecordBatch v2 (magic 2) in plain Python: enough to produce and consume through
Tributary's gRPC API. Layout and rules: proto/README.md ("Record batches").

An EXAMPLE, not a library: uncompressed and gzip batches only (snappy, lz4 and zstd need
third-party packages), no idempotence (producerId / producerEpoch / baseSequence are -1).
CRC32C uses the `crc32c` package when installed (pip install crc32c, or Debian's
python3-crc32c), else a slow table-driven fallback that is fine for an example.
"""
import gzip
import struct
import time
import zlib
from typing import Iterator, List, NamedTuple, Optional, Sequence, Tuple

try:  # fast path
    from crc32c import crc32c as _crc32c  # type: ignore
except ImportError:  # pure Python CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)
    _TABLE = []
    for _i in range(256):
        _c = _i
        for _ in range(8):
            _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
        _TABLE.append(_c)

    def _crc32c(data: bytes) -> int:
        crc = 0xFFFFFFFF
        for b in data:
            crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF


def crc32c(data: bytes) -> int:
    return _crc32c(data) & 0xFFFFFFFF


# Header: baseOffset q, batchLength i, partitionLeaderEpoch i, magic b, crc I, attributes h,
# lastOffsetDelta i, baseTimestamp q, maxTimestamp q, producerId q, producerEpoch h,
# baseSequence i, recordsCount i  -> 61 bytes, big-endian.
HEADER = struct.Struct(">qiibIhiqqqhii")
assert HEADER.size == 61
ATTRIBUTES_AT = 21  # the CRC covers bytes 21 .. end
COMPRESSION_NONE, COMPRESSION_GZIP = 0, 1
CONTROL_BIT = 0x20
LOG_APPEND_TIME_BIT = 0x08


def _zigzag_varint(value: int) -> bytes:
    """Kafka's signed varint (zig-zag, then base-128 little-endian groups)."""
    z = (value << 1) ^ (value >> 63)
    z &= 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _read_varint(buf: bytes, pos: int) -> Tuple[int, int]:
    shift = 0
    raw = 0
    while True:
        b = buf[pos]
        pos += 1
        raw |= (b & 0x7F) << shift
        if not b & 0x80:
            break
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")
    return (raw >> 1) ^ -(raw & 1), pos


def _bytes_field(value: Optional[bytes]) -> bytes:
    if value is None:
        return _zigzag_varint(-1)
    return _zigzag_varint(len(value)) + value


class Record(NamedTuple):
    key: Optional[bytes]
    value: Optional[bytes]
    headers: Sequence[Tuple[str, Optional[bytes]]] = ()
    timestamp_ms: Optional[int] = None  # None: now


def encode_batch(records: Sequence[Record], compression: int = COMPRESSION_NONE) -> bytes:
    """One RecordBatch v2 as a producer sends it: baseOffset 0 and partitionLeaderEpoch -1
    (the leader overwrites both), offset deltas 0..n-1, CRC32C over attributes..end."""
    if not records:
        raise ValueError("a batch needs at least one record")
    now = int(time.time() * 1000)
    stamps = [r.timestamp_ms if r.timestamp_ms is not None else now for r in records]
    base_ts = stamps[0]
    body = bytearray()
    for delta, (r, ts) in enumerate(zip(records, stamps)):
        rec = bytearray(b"\x00")  # record attributes (unused)
        rec += _zigzag_varint(ts - base_ts)  # timestampDelta
        rec += _zigzag_varint(delta)  # offsetDelta
        rec += _bytes_field(r.key)
        rec += _bytes_field(r.value)
        rec += _zigzag_varint(len(r.headers))
        for hk, hv in r.headers:
            rec += _bytes_field(hk.encode("utf-8"))
            rec += _bytes_field(hv)
        body += _zigzag_varint(len(rec)) + rec
    if compression == COMPRESSION_GZIP:
        body = bytearray(gzip.compress(bytes(body)))
    elif compression != COMPRESSION_NONE:
        raise ValueError("this example only writes uncompressed or gzip batches")
    size = HEADER.size + len(body)
    header = HEADER.pack(
        0,  # baseOffset: rewritten by the leader
        size - 12,  # batchLength: bytes after this field
        -1,  # partitionLeaderEpoch: rewritten by the leader
        2,  # magic
        0,  # crc, filled below
        compression,  # attributes: compression bits 0-2, CreateTime, not transactional
        len(records) - 1,  # lastOffsetDelta
        base_ts,
        max(stamps),  # maxTimestamp
        -1,  # producerId: not idempotent
        -1,  # producerEpoch
        -1,  # baseSequence
        len(records),
    )
    batch = bytearray(header) + body
    struct.pack_into(">I", batch, 17, crc32c(bytes(batch[ATTRIBUTES_AT:])))
    return bytes(batch)


class ConsumedRecord(NamedTuple):
    offset: int
    timestamp_ms: int
    key: Optional[bytes]
    value: Optional[bytes]
    headers: List[Tuple[str, Optional[bytes]]]
    leader_epoch: int


def decode_batches(data: bytes, verify_crc: bool = True) -> Iterator[ConsumedRecord]:
    """Every record of the concatenated batches of a FetchPartitionResponse.records."""
    pos = 0
    while pos + HEADER.size <= len(data):
        (base_offset, batch_length, leader_epoch, magic, crc, attributes, _last_delta,
         base_ts, max_ts, _pid, _pepoch, _bseq, count) = HEADER.unpack_from(data, pos)
        end = pos + 12 + batch_length
        if magic != 2 or end > len(data):
            raise ValueError(f"not a whole RecordBatch v2 at byte {pos}")
        if verify_crc and crc32c(data[pos + ATTRIBUTES_AT:end]) != crc:
            raise ValueError(f"CRC32C mismatch in the batch at offset {base_offset}")
        if attributes & CONTROL_BIT:  # transaction markers: not user records
            pos = end
            continue
        codec = attributes & 0x07
        body = data[pos + HEADER.size:end]
        if codec == COMPRESSION_GZIP:
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif codec != COMPRESSION_NONE:
            raise ValueError(f"compression codec {codec} is not supported by this example")
        p = 0
        for _ in range(count):
            length, p = _read_varint(body, p)
            rec_end = p + length
            p += 1  # attributes
            ts_delta, p = _read_varint(body, p)
            off_delta, p = _read_varint(body, p)
            klen, p = _read_varint(body, p)
            key = None if klen < 0 else bytes(body[p:p + klen])
            p += max(klen, 0)
            vlen, p = _read_varint(body, p)
            value = None if vlen < 0 else bytes(body[p:p + vlen])
            p += max(vlen, 0)
            nheaders, p = _read_varint(body, p)
            headers = []
            for _h in range(nheaders):
                hklen, p = _read_varint(body, p)
                hk = bytes(body[p:p + hklen]).decode("utf-8")
                p += hklen
                hvlen, p = _read_varint(body, p)
                hv = None if hvlen < 0 else bytes(body[p:p + hvlen])
                p += max(hvlen, 0)
                headers.append((hk, hv))
            if p != rec_end:
                raise ValueError("record length does not match its fields")
            ts = max_ts if attributes & LOG_APPEND_TIME_BIT else base_ts + ts_delta
            yield ConsumedRecord(base_offset + off_delta, ts, key, value, headers, leader_epoch)
        pos = end
