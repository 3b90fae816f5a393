"""NAS-Bench-101 records (``nasbench_only108.tfrecord``) read and written without TensorFlow or protobuf.

Format, from google-research/nasbench ``nasbench/api.py`` (``NASBench.__init__``): each TFRecord's
data is UTF-8 JSON, ``json.loads(row.decode('utf-8'))`` =
``[module_hash, epochs, raw_adjacency, raw_operations, raw_metrics]``:

- ``module_hash``: the 32-hex-digit MD5 of the pruned cell (``ModelSpec.hash_spec``);
- ``epochs``: the training budget, 4, 12, 36 or 108 (only 108 in the ``only108`` file);
- ``raw_adjacency``: '0'/'1' characters, the dim × dim adjacency matrix row-major
  (api.py: ``dim = int(np.sqrt(len(raw_adjacency)))``, int8);
- ``raw_operations``: comma-separated op names, one per vertex ('input', 'conv3x3-bn-relu',
  'conv1x1-bn-relu', 'maxpool3x3', 'output');
- ``raw_metrics``: base64 of a serialized ``nasbench.ModelMetrics`` protobuf.

Each (hash, epochs) pair occurs once per training repeat: ``nasbench/lib/config.py`` sets
``num_repeats = 3`` and api.py appends one data point per record to
``computed_statistics[hash][epochs]``. Of a record's ``evaluation_data`` api.py uses index 1 as the
halfway evaluation (epoch 54 of 108) and index 2 as the final one; index 0 is the evaluation at
initialisation (step 0), unused there.

The messages, from ``nasbench/lib/model_metrics.proto`` (proto2, package ``nasbench``; field types
checked against the generated ``model_metrics_pb2.py``: 11 = message, 5 = int32, 1 = double,
9 = string)::

    message ModelMetrics {
      repeated EvaluationData evaluation_data = 1;
      optional int32 trainable_parameters = 2;
      optional double total_time = 3;
    }
    message EvaluationData {
      optional double current_epoch = 1;
      optional double training_time = 2;
      optional double train_accuracy = 3;
      optional double validation_accuracy = 4;
      optional double test_accuracy = 5;
      optional string checkpoint_path = 6;
    }

The protobuf wire format is decoded here for just these two messages: varints (wire type 0),
64-bit little-endian doubles (1), length-delimited strings and sub-messages (2); a field of an
unknown number, or of a known number with another wire type, is skipped as protobuf does
(wire types 0, 1, 2 and 5); group wire types (3, 4), invalid ones (6, 7), field number 0 and
truncated data raise ValueError. A repeated singular field keeps its last value, as in protobuf.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import struct
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from nasstages.errors import BenchmarkSourceError

#: evaluation_data indices (api.py): at initialisation, halfway through training, at its end
START_EVAL, HALFWAY_EVAL, FINAL_EVAL = 0, 1, 2
NUM_REPEATS = 3  # training repeats per (hash, epochs): records per pair in the file

_HASH = re.compile(r"[0-9a-f]{32}")
_DOUBLE = struct.Struct("<d")
_FIVE_DOUBLES = struct.Struct("<xdxdxdxdxd")  # five (tag byte, double) pairs
_FIVE_TAGS = b"\x09\x11\x19\x21\x29"  # EvaluationData fields 1..5 as wire type 1, in order
_DIGITS = bytes.maketrans(b"01", b"\x00\x01")  # '0'/'1' characters to 0/1 bytes
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass(slots=True)
class EvaluationData:
    """One evaluation of a training run (``nasbench.EvaluationData``); absent fields are 0 / ''."""

    current_epoch: float = 0.0
    training_time: float = 0.0
    train_accuracy: float = 0.0
    validation_accuracy: float = 0.0
    test_accuracy: float = 0.0
    checkpoint_path: str = ""


@dataclass(slots=True)
class ModelMetrics:
    """The metrics of one training run (``nasbench.ModelMetrics``): its evaluations in order
    (see ``START_EVAL`` / ``HALFWAY_EVAL`` / ``FINAL_EVAL``), parameter count and total time."""

    evaluation_data: list[EvaluationData] = field(default_factory=list)
    trainable_parameters: int = 0
    total_time: float = 0.0


@dataclass(slots=True, eq=False)
class NB101Record:
    """One record of the NB101 file: a cell (hash, adjacency, ops) and one training run of it."""

    module_hash: str
    epochs: int
    adjacency: np.ndarray  # int8, (dim, dim)
    ops: tuple[str, ...]
    metrics: ModelMetrics

    def __eq__(self, other: object) -> bool:
        """Field-wise equality, the adjacency compared element-wise (dataclass ``==`` cannot)."""
        if not isinstance(other, NB101Record):
            return NotImplemented
        return (self.module_hash == other.module_hash and self.epochs == other.epochs
                and self.adjacency.shape == other.adjacency.shape
                and bool(np.array_equal(self.adjacency, other.adjacency))
                and self.ops == other.ops and self.metrics == other.metrics)


# ---------------------------------------------------------------- protobuf wire format


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at ``buf[pos]``; at most 10 bytes."""
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise ValueError(f"protobuf: varint truncated at byte {pos}")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            if shift == 63 and byte > 1:
                raise ValueError(f"protobuf: varint overflows 64 bits before byte {pos}")
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError(f"protobuf: varint longer than 10 bytes before byte {pos}")


def _tag(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(tag, next position) of the field key at ``buf[pos]``, refusing field number 0."""
    tag = buf[pos]
    if tag < 0x80:
        pos += 1
    else:
        tag, pos = _varint(buf, pos, end)
    if tag < 8:
        raise ValueError(f"protobuf: field number 0 (tag {tag}) before byte {pos}")
    return tag, pos


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """(length, position after it) of a length-delimited field, checked against ``end``."""
    size, pos = _varint(buf, pos, end)
    if size > end - pos:
        raise ValueError(f"protobuf: length-delimited field of {size} bytes at byte {pos} runs past the end ({end})")
    return size, pos


def _skip(buf: bytes, pos: int, end: int, tag: int) -> int:
    """Position after the value of an unknown field with key ``tag`` starting at ``pos``."""
    wire = tag & 7
    if wire == 0:
        return _varint(buf, pos, end)[1]
    if wire == 1:
        pos += 8
    elif wire == 2:
        size, pos = _length(buf, pos, end)
        pos += size
    elif wire == 5:
        pos += 4
    elif wire in (3, 4):
        raise ValueError(f"protobuf: group wire type {wire} (field {tag >> 3}) is not supported, before byte {pos}")
    else:
        raise ValueError(f"protobuf: invalid wire type {wire} (field {tag >> 3}) before byte {pos}")
    if pos > end:
        raise ValueError(f"protobuf: field {tag >> 3} (wire type {wire}) truncated at byte {end}")
    return pos


def _double(buf: bytes, pos: int, end: int) -> float:
    """The little-endian double at ``buf[pos:pos + 8]``, checked against ``end``."""
    if pos + 8 > end:
        raise ValueError(f"protobuf: double truncated at byte {end}")
    return _DOUBLE.unpack_from(buf, pos)[0]


def _decode_evaluation(buf: bytes, pos: int, end: int) -> EvaluationData:
    """The EvaluationData serialized in ``buf[pos:end]``."""
    if end - pos == 45 and buf[pos:end:9] == _FIVE_TAGS:  # the common layout: five doubles in field order
        return EvaluationData(*_FIVE_DOUBLES.unpack_from(buf, pos))
    values = [0.0, 0.0, 0.0, 0.0, 0.0]
    path = ""
    while pos < end:
        tag, pos = _tag(buf, pos, end)
        if tag in (0x09, 0x11, 0x19, 0x21, 0x29):  # fields 1..5, double
            values[(tag >> 3) - 1] = _double(buf, pos, end)
            pos += 8
        elif tag == 0x32:  # field 6, string
            size, pos = _length(buf, pos, end)
            try:
                path = buf[pos:pos + size].decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError(f"protobuf: checkpoint_path at byte {pos} is not UTF-8") from None
            pos += size
        else:
            pos = _skip(buf, pos, end, tag)
    return EvaluationData(values[0], values[1], values[2], values[3], values[4], path)


def decode_model_metrics(raw: bytes) -> ModelMetrics:
    """Parse a serialized ``nasbench.ModelMetrics`` (what api.py's ``ModelMetrics.FromString``
    does), without protobuf; ValueError on malformed bytes."""
    evaluations = []
    params = 0
    total = 0.0
    pos, end = 0, len(raw)
    while pos < end:
        if raw[pos] == 0x0A and pos + 1 < end and raw[pos + 1] < 0x80:  # the usual case, a short evaluation
            start = pos + 2
            pos = start + raw[pos + 1]
            if pos > end:
                raise ValueError(f"protobuf: length-delimited field of {raw[start - 1]} bytes at byte {start} runs "
                                 f"past the end ({end})")
            evaluations.append(_decode_evaluation(raw, start, pos))
            continue
        tag, pos = _tag(raw, pos, end)
        if tag == 0x0A:  # field 1, EvaluationData
            size, pos = _length(raw, pos, end)
            evaluations.append(_decode_evaluation(raw, pos, pos + size))
            pos += size
        elif tag == 0x10:  # field 2, int32 as varint: the low 32 bits, signed
            value, pos = _varint(raw, pos, end)
            value &= 0xFFFFFFFF
            params = value - (1 << 32) if value > _INT32_MAX else value
        elif tag == 0x19:  # field 3, double
            total = _double(raw, pos, end)
            pos += 8
        else:
            pos = _skip(raw, pos, end, tag)
    return ModelMetrics(evaluations, params, total)


def _encode_varint(value: int) -> bytes:
    """Base-128 varint of a non-negative ``value`` < 2**64."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_evaluation(e: EvaluationData) -> bytes:
    """Serialized EvaluationData: fields 1..5 as doubles, then 6 when the path is non-empty."""
    body = _put_tags(_FIVE_DOUBLES.pack(e.current_epoch, e.training_time, e.train_accuracy,
                                        e.validation_accuracy, e.test_accuracy))
    if e.checkpoint_path:
        path = e.checkpoint_path.encode("utf-8")
        body += b"\x32" + _encode_varint(len(path)) + path
    return body


def _put_tags(packed: bytes) -> bytes:
    """``_FIVE_DOUBLES.pack`` output (pad bytes zero) with each pad byte set to its field's tag."""
    out = bytearray(packed)
    out[0::9] = _FIVE_TAGS
    return bytes(out)


def encode_model_metrics(m: ModelMetrics) -> bytes:
    """Serialize ``m`` as protobuf does (fields in ascending number, doubles as wire type 1,
    int32 as a varint, a negative one as 10 bytes); every numeric field is written, zero or
    not (proto2 writes each field that was set), checkpoint_path only when non-empty."""
    params = m.trainable_parameters
    if not isinstance(params, (int, np.integer)) or not _INT32_MIN <= params <= _INT32_MAX:
        raise ValueError(f"trainable_parameters must be an int32, got {params!r}")
    parts = []
    for evaluation in m.evaluation_data:
        body = _encode_evaluation(evaluation)
        parts += (b"\x0a", _encode_varint(len(body)), body)
    parts += (b"\x10", _encode_varint(int(params) & 0xFFFFFFFFFFFFFFFF), b"\x19", _DOUBLE.pack(m.total_time))
    return b"".join(parts)


# ---------------------------------------------------------------- JSON record


def parse_record(payload: bytes) -> NB101Record:
    """Decode one record's data (JSON list + base64 protobuf) as api.py does; ValueError saying
    what is malformed."""
    try:
        row = json.loads(payload.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"record is not UTF-8 JSON ({exc})") from None
    if type(row) is not list or len(row) != 5:
        raise ValueError(f"record must be a JSON list of 5 items [module_hash, epochs, adjacency, operations, "
                         f"metrics], got {type(row).__name__} of length {_len(row)}")
    module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = row
    if type(module_hash) is not str or not _HASH.fullmatch(module_hash):
        raise ValueError(f"module_hash must be 32 lowercase hex digits, got {module_hash!r}")
    if type(epochs) is not int or epochs <= 0:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if type(raw_adjacency) is not str or type(raw_operations) is not str or type(raw_metrics) is not str:
        raise ValueError("adjacency, operations and metrics must be JSON strings")
    size = len(raw_adjacency)
    dim = math.isqrt(size)
    if size == 0 or dim * dim != size:
        raise ValueError(f"adjacency has {size} characters, not the square of a vertex count")
    try:
        digits = raw_adjacency.encode("ascii")
    except UnicodeEncodeError:
        digits = b"?"
    if digits.translate(None, b"01"):
        raise ValueError(f"adjacency must hold only '0' and '1', got {raw_adjacency!r}")
    adjacency = np.frombuffer(bytearray(digits.translate(_DIGITS)), dtype=np.int8).reshape(dim, dim)
    ops = tuple(raw_operations.split(","))
    if len(ops) != dim:
        raise ValueError(f"{len(ops)} operations {raw_operations!r} for a {dim}-vertex adjacency")
    try:
        raw = base64.b64decode(raw_metrics, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"metrics are not valid base64 ({exc})") from None
    try:
        metrics = decode_model_metrics(raw)
    except ValueError as exc:
        raise ValueError(f"metrics are not a valid ModelMetrics protobuf: {exc}") from None
    return NB101Record(module_hash, epochs, adjacency, ops, metrics)


def _len(obj: object) -> int | str:
    """len(obj), or 'n/a' for objects without one (error messages only)."""
    try:
        return len(obj)  # type: ignore[arg-type]
    except TypeError:
        return "n/a"


def encode_record(record: NB101Record) -> bytes:
    """The record's data as the official file holds it: ``json.dumps`` of the 5-item list, what
    api.py's ``json.loads`` reads back (used to write test files)."""
    adjacency = np.asarray(record.adjacency)
    if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1] or adjacency.size == 0:
        raise ValueError(f"adjacency must be a non-empty square matrix, got shape {adjacency.shape}")
    if not np.isin(adjacency, (0, 1)).all():
        raise ValueError("adjacency must hold only 0 and 1")
    if len(record.ops) != adjacency.shape[0]:
        raise ValueError(f"{len(record.ops)} operations for a {adjacency.shape[0]}-vertex adjacency")
    if any("," in op for op in record.ops):
        raise ValueError(f"operation names cannot contain ',': {record.ops}")
    raw_adjacency = (adjacency.astype(np.uint8).reshape(-1) + 48).tobytes().decode("ascii")
    raw_metrics = base64.b64encode(encode_model_metrics(record.metrics)).decode("ascii")
    row = [record.module_hash, int(record.epochs), raw_adjacency, ",".join(record.ops), raw_metrics]
    return json.dumps(row).encode("utf-8")


def read_nb101_file(path: str | os.PathLike[str], verify: bool = True) -> Iterator[NB101Record]:
    """Each record of an NB101 TFRecord file, CRC-checked when ``verify``; a damaged or malformed
    record raises BenchmarkSourceError naming its number and byte offset."""
    from nasstages.benchmarks.tfrecord import NB101_FIX, iter_records_at  # numba: only when a file is read

    for index, offset, payload in iter_records_at(path, verify):
        try:
            record = parse_record(payload)
        except ValueError as exc:
            raise BenchmarkSourceError(f"{path}: record {index} (counting from 0) at byte offset {offset} is not a "
                                       f"NAS-Bench-101 record: {exc}; {NB101_FIX}") from None
        yield record
