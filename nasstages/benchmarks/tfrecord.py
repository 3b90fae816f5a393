"""TFRecord files without TensorFlow: read (CRC-verified) and write the official framing.

A TFRecord file is a concatenation of records, each (TensorFlow ``core/lib/io/record_writer.cc``)::

    uint64  length                        little-endian
    uint32  masked CRC32C of those 8 bytes little-endian
    byte    data[length]
    uint32  masked CRC32C of data         little-endian

CRC32C is the Castagnoli CRC (reflected polynomial 0x82F63B78, initial value and final xor
0xFFFFFFFF; RFC 3720 B.4); masked = rotate-right-15(crc) + 0xA282EAD8 (TensorFlow
``core/lib/hash/crc32c.h`` ``Mask``).

Speed: the NAS-Bench-101 file is ~500 MB in 1.27 M records, so the file is memory-mapped and one
compiled (numba) call frames and verifies up to ``_BATCH`` records at a time with a slicing-by-8
CRC; Python only slices out each record's bytes. This module imports numba at the top, so import
it only where a file is read or written (a store build), never at package import.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
from numba import njit

from nasstages.errors import BenchmarkSourceError
from nasstages.io import atomic_path

NB101_URL = "https://storage.googleapis.com/nasbench/nasbench_only108.tfrecord"
NB101_FIX = f"the file is damaged or incomplete: download it again from {NB101_URL}"

_MASK_DELTA = 0xA282EAD8
_HEADER = 12  # length (8) + its masked CRC (4)
_FOOTER = 4  # masked CRC of the data
_BATCH = 1 << 16  # records framed per compiled call

# status codes of _scan
_OK, _SHORT_HEADER, _BAD_LENGTH_CRC, _SHORT_DATA, _BAD_DATA_CRC = range(5)


def _crc_tables() -> np.ndarray:
    """The 8 × 256 slicing-by-8 tables of the reflected Castagnoli CRC (row k: the CRC of a byte
    followed by k zero bytes)."""
    table = np.zeros((8, 256), dtype=np.uint32)
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table[0, n] = c
    for k in range(1, 8):
        prev = table[k - 1]
        table[k] = (prev >> 8) ^ table[0, prev & 0xFF]
    return table


_TABLES = _crc_tables()

# numba arithmetic below stays in uint64 (mixing it with int64 would give floats); values < 2**32
_U8, _U16, _U24, _BYTE, _WORD = np.uint64(8), np.uint64(16), np.uint64(24), np.uint64(0xFF), np.uint64(0xFFFFFFFF)


@njit(cache=True)
def _crc_update(tables, crc, buf, start, end):
    """CRC32C of ``crc`` extended by ``buf[start:end]`` (slicing-by-8, 8 bytes a step; ``crc`` is
    the plain, unmasked value, 0 for a fresh checksum)."""
    c = np.uint64(crc) ^ _WORD
    i = start
    while i + 8 <= end:
        lo = c ^ (np.uint64(buf[i]) | (np.uint64(buf[i + 1]) << _U8) | (np.uint64(buf[i + 2]) << _U16)
                  | (np.uint64(buf[i + 3]) << _U24))
        c = np.uint64(tables[7, lo & _BYTE] ^ tables[6, (lo >> _U8) & _BYTE] ^ tables[5, (lo >> _U16) & _BYTE]
                      ^ tables[4, lo >> _U24] ^ tables[3, buf[i + 4]] ^ tables[2, buf[i + 5]]
                      ^ tables[1, buf[i + 6]] ^ tables[0, buf[i + 7]])
        i += 8
    while i < end:
        c = np.uint64(tables[0, (c ^ np.uint64(buf[i])) & _BYTE]) ^ (c >> _U8)
        i += 1
    return c ^ _WORD


@njit(cache=True)
def _masked_at(tables, buf, start, end):
    """Masked CRC32C of ``buf[start:end]`` (TensorFlow's ``Mask`` of :func:`_crc_update`)."""
    c = _crc_update(tables, np.uint64(0), buf, start, end)
    rotated = ((c >> np.uint64(15)) | (c << np.uint64(17))) & _WORD
    return (rotated + np.uint64(0xA282EAD8)) & _WORD


@njit(cache=True)
def _u32_at(buf, pos):
    """Little-endian uint32 at ``buf[pos:pos + 4]``."""
    return (np.uint64(buf[pos]) | (np.uint64(buf[pos + 1]) << _U8) | (np.uint64(buf[pos + 2]) << _U16)
            | (np.uint64(buf[pos + 3]) << _U24))


@njit(cache=True)
def _scan(tables, buf, pos, max_records, verify, starts, lengths):
    """Frame up to ``max_records`` records from byte ``pos`` of ``buf``: their data offsets and
    lengths go to ``starts`` / ``lengths``. Returns (records framed, offset of the next record or
    of the bad one, status, stored CRC, computed CRC); status is ``_OK`` unless the record at
    that offset is truncated or fails a CRC."""
    n = buf.size
    count = 0
    zero = np.uint64(0)
    while count < max_records and pos < n:
        if pos + 12 > n:
            return count, pos, 1, zero, zero
        if verify:
            stored = _u32_at(buf, pos + 8)
            computed = _masked_at(tables, buf, pos, pos + 8)
            if stored != computed:
                return count, pos, 2, stored, computed
        length = 0
        for k in range(7):
            length |= np.int64(buf[pos + k]) << (8 * k)
        if buf[pos + 7] != 0 or length > n - pos - 16:  # a length beyond the end of the file
            return count, pos, 3, zero, zero
        start = pos + 12
        if verify:
            stored = _u32_at(buf, start + length)
            computed = _masked_at(tables, buf, start, start + length)
            if stored != computed:
                return count, pos, 4, stored, computed
        starts[count] = start
        lengths[count] = length
        count += 1
        pos = start + length + 4
    return count, pos, 0, zero, zero


def _as_u8(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """A flat uint8 view of ``data``'s bytes (no copy for bytes-like or contiguous arrays)."""
    if isinstance(data, np.ndarray):
        return np.ascontiguousarray(data).reshape(-1).view(np.uint8)
    return np.frombuffer(data, dtype=np.uint8)


def crc32c(data: bytes | np.ndarray) -> int:
    """Plain (unmasked) CRC32C of ``data``'s bytes: the checksum TFRecord framing is built on."""
    buf = _as_u8(data)
    return int(_crc_update(_TABLES, np.uint64(0), buf, 0, buf.size))


def mask_crc(crc: int) -> int:
    """TensorFlow's ``Mask``: rotate right by 15 bits and add a constant, so a CRC of data that
    itself holds CRCs stays well distributed."""
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def unmask_crc(masked: int) -> int:
    """TensorFlow's ``Unmask``: the inverse of :func:`mask_crc` (to report a stored CRC)."""
    rot = (masked - _MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def masked_crc32c(data: bytes | np.ndarray) -> int:
    """Masked CRC32C of ``data``: the value a TFRecord stores after its length and its data."""
    return mask_crc(crc32c(data))


def iter_records(path: str | os.PathLike[str], verify: bool = True, *, fix: str = NB101_FIX) -> Iterator[bytes]:
    """Each record's data in file order, both CRCs of every record checked when ``verify``; a
    truncated or damaged record raises BenchmarkSourceError (offset, record number, ``fix``)."""
    for _index, _offset, data in iter_records_at(path, verify, fix=fix):
        yield data


def iter_records_at(path: str | os.PathLike[str], verify: bool = True, *,
                    fix: str = NB101_FIX) -> Iterator[tuple[int, int, bytes]]:
    """(record number from 0, byte offset of its header, data) of each record, as
    :func:`iter_records`: callers that parse the data can name where a bad record is."""
    path = Path(path)
    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise BenchmarkSourceError(f"cannot read TFRecord file {path} ({exc.strerror}); {fix}") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return  # a file of zero records (mmap refuses empty files)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        buf = np.frombuffer(mapped, dtype=np.uint8)
        try:
            starts = np.empty(_BATCH, dtype=np.int64)
            lengths = np.empty(_BATCH, dtype=np.int64)
            pos, index = 0, 0
            while pos < size:
                count, pos, status, stored, computed = _scan(_TABLES, buf, pos, _BATCH, verify, starts, lengths)
                for start, length in zip(starts[:count].tolist(), lengths[:count].tolist()):
                    yield index, start - _HEADER, mapped[start:start + length]
                    index += 1
                if status != _OK:
                    raise BenchmarkSourceError(_damage_message(path, size, buf, pos, index, status, stored,
                                                               computed, fix))
        finally:
            del buf  # the array must let go of the map before it can close
            mapped.close()


def _damage_message(path: Path, size: int, buf: np.ndarray, pos: int, index: int, status: int, stored: int,
                    computed: int, fix: str) -> str:
    """What is wrong with the record at byte ``pos`` (status from ``_scan``), where, and ``fix``."""
    where = f"{path}: record {index} (counting from 0) at byte offset {pos}"
    if status == _SHORT_HEADER:
        what = f"the file ends {size - pos} byte(s) into the record's 12-byte header (file size {size})"
    elif status == _BAD_LENGTH_CRC:
        what = (f"the CRC of the length field does not match (stored masked CRC 0x{stored:08x}, "
                f"computed 0x{computed:08x})")
    elif status == _SHORT_DATA:
        length = int.from_bytes(bytes(buf[pos:pos + 8]), "little")
        what = (f"the record declares {length} data bytes ({length + 16} with its header and CRCs), but only "
                f"{size - pos} byte(s) remain in the file (size {size}): the file is truncated")
    else:
        what = (f"the CRC of the record's data does not match (stored masked CRC 0x{stored:08x}, "
                f"computed 0x{computed:08x})")
    return f"{where}: {what}; {fix}"


def write_records(path: str | os.PathLike[str], payloads: Iterable[bytes]) -> None:
    """Write ``payloads`` as a TFRecord file with the official framing, atomically (a killed
    writer leaves no partial file), e.g. to build test fixtures the reader must accept."""
    pack_len, pack_crc = struct.Struct("<Q").pack, struct.Struct("<I").pack
    with atomic_path(path) as tmp:
        with open(tmp, "wb", buffering=1 << 20) as out:
            for payload in payloads:
                data = np.frombuffer(payload, dtype=np.uint8)
                header = pack_len(data.size)
                out.write(header)
                out.write(pack_crc(masked_crc32c(header)))
                out.write(payload)
                out.write(pack_crc(mask_crc(int(_crc_update(_TABLES, np.uint64(0), data, 0, data.size)))))
