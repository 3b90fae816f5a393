"""NB101 file reading without TensorFlow: TFRecord framing and CRC32C, the ModelMetrics protobuf
wire format, and the JSON records of ``nasbench_only108.tfrecord``."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from nasstages.benchmarks import tfrecord
from nasstages.benchmarks.nb101_records import (EvaluationData, ModelMetrics, NB101Record, decode_model_metrics,
                                                encode_model_metrics, encode_record, parse_record, read_nb101_file)
from nasstages.benchmarks.tfrecord import (crc32c, iter_records, mask_crc, masked_crc32c, unmask_crc,
                                           write_records)
from nasstages.errors import BenchmarkSourceError

# Two records of a real TensorFlow event file (tf.summary.scalar("accuracy", 0.99, step=77)), as
# dumped with xxd in TensorBoard's tensorboard/data/server/tf_record.rs tests: header, data, footer.
EVENT_1 = b"\x09\x00\x00\x80\x38\x99\xd6\xd7\x41\x1a\x0dbrain.Event:2"
EVENT_2 = (b"\x09\xc4\x05\xb7\x3d\x99\xd6\xd7\x41\x10\x4d\x2a\x25\x0a\x23\x0a\x08accuracy"
           b"\x42\x0a\x08\x01\x12\x00\x22\x04\xa4\x70\x7d\x3f\x4a\x0b\x0a\x09\x0a\x07scalars")
EVENT_FILE = (b"\x18\x00\x00\x00\x00\x00\x00\x00" b"\xa3\x7f\x4b\x22" + EVENT_1 + b"\x12\x4b\x36\xab"
              + b"\x32\x00\x00\x00\x00\x00\x00\x00" b"\x24\x19\x56\xec" + EVENT_2 + b"\xa5\x5b\x64\x33")

HASH = "0123456789abcdef0123456789abcdef"
OPS = ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")


# ---------------------------------------------------------------- CRC32C and framing


def test_crc32c_standard_vectors():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value
    # RFC 3720 (iSCSI) B.4, as in TensorFlow's crc32c_test.cc
    assert crc32c(bytes(32)) == 0x8A9136AA
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert crc32c(bytes(range(31, -1, -1))) == 0x113FDB5C
    assert crc32c(b"") == 0
    assert crc32c(np.arange(32, dtype=np.uint8)) == 0x46DD794E


def test_crc32c_every_length_matches_bytewise_reference():
    """The 8-byte steps and the byte tail agree with the textbook bit-by-bit CRC at every length."""
    def reference(data: bytes) -> int:
        crc = 0xFFFFFFFF
        for byte in data:
            crc ^= byte
            for _ in range(8):
                crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        return crc ^ 0xFFFFFFFF

    data = np.random.default_rng(0).integers(0, 256, 40, dtype=np.uint8).tobytes()
    for n in range(len(data) + 1):
        assert crc32c(data[:n]) == reference(data[:n]), n


def test_mask_as_tensorflow():
    crc = crc32c(b"foo")
    assert mask_crc(crc) != crc and mask_crc(mask_crc(crc)) != mask_crc(crc)  # crc32c_test.cc Mask
    assert unmask_crc(mask_crc(crc)) == crc and unmask_crc(unmask_crc(mask_crc(mask_crc(crc)))) == crc
    # a real event-file record's stored data CRC (TensorBoard masked_crc.rs)
    assert masked_crc32c(b"\x1a\x11CRC test, one two") == 0x5794D08A


def test_real_tensorflow_records(tmp_path):
    path = tmp_path / "events.tfrecord"
    path.write_bytes(EVENT_FILE)
    assert list(iter_records(path)) == [EVENT_1, EVENT_2]
    copy = tmp_path / "copy.tfrecord"
    write_records(copy, [EVENT_1, EVENT_2])
    assert copy.read_bytes() == EVENT_FILE  # byte for byte what TensorFlow wrote


def test_write_then_read_round_trip(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    payloads = [b"", b"x", rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()]
    payloads += [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(1, 300, 20)]
    path = tmp_path / "r.tfrecord"
    write_records(path, payloads)
    assert path.stat().st_size == sum(len(p) + 16 for p in payloads)
    assert list(iter_records(path)) == payloads
    monkeypatch.setattr(tfrecord, "_BATCH", 3)  # records framed 3 per compiled call
    assert list(iter_records(path)) == payloads
    assert [(i, off) for i, off, _ in tfrecord.iter_records_at(path)][:3] == [(0, 0), (1, 16), (2, 33)]
    empty = tmp_path / "empty.tfrecord"
    write_records(empty, [])
    assert empty.read_bytes() == b"" and list(iter_records(empty)) == []


def _three_records(tmp_path):
    path = tmp_path / "r.tfrecord"
    write_records(path, [b"a" * 10, b"b" * 20, b"c" * 30])
    return path, path.read_bytes()  # records at offsets 0, 26, 62; size 108


@pytest.mark.parametrize("cut, offset, index, what", [
    (100, 62, 2, "declares 30 data bytes (46 with its header and CRCs), but only 38 byte(s) remain"),
    (106, 62, 2, "declares 30 data bytes (46 with its header and CRCs), but only 44 byte(s) remain"),  # no CRC
    (70, 62, 2, "ends 8 byte(s) into the record's 12-byte header"),
    (30, 26, 1, "ends 4 byte(s) into"),
])
def test_truncated_file_names_the_offset(tmp_path, cut, offset, index, what):
    path, data = _three_records(tmp_path)
    path.write_bytes(data[:cut])
    records = iter_records(path)
    assert next(records) == b"a" * 10
    with pytest.raises(BenchmarkSourceError) as err:
        list(records)
    message = str(err.value)
    assert f"record {index} (counting from 0) at byte offset {offset}" in message and what in message
    assert str(path) in message and tfrecord.NB101_URL in message


@pytest.mark.parametrize("flip, what", [(26 + 12 + 5, "CRC of the record's data"),
                                        (26 + 2, "CRC of the length field"),
                                        (26 + 9, "CRC of the length field"),  # the stored length CRC
                                        (26 + 12 + 20, "CRC of the record's data")])  # the stored data CRC
def test_flipped_byte_is_detected(tmp_path, flip, what):
    path, data = _three_records(tmp_path)
    damaged = bytearray(data)
    damaged[flip] ^= 0x04
    path.write_bytes(bytes(damaged))
    with pytest.raises(BenchmarkSourceError, match=r"record 1 \(counting from 0\) at byte offset 26") as err:
        list(iter_records(path))
    assert what in str(err.value) and "download it again" in str(err.value)


def test_verify_false_skips_the_crcs(tmp_path):
    path, data = _three_records(tmp_path)
    damaged = bytearray(data)
    damaged[26 + 12] = ord("z")
    path.write_bytes(bytes(damaged))
    assert list(iter_records(path, verify=False))[1] == b"z" + b"b" * 19


def test_missing_file(tmp_path):
    with pytest.raises(BenchmarkSourceError, match="cannot read TFRecord file"):
        list(iter_records(tmp_path / "absent.tfrecord"))


# ---------------------------------------------------------------- ModelMetrics protobuf


def test_encoder_against_hand_computed_wire_bytes():
    # field 2 (int32) 300 = varint AC 02; field 3 (double) 1.5 = 0x3FF8000000000000 little-endian
    tiny = b"\x10\xac\x02" b"\x19\x00\x00\x00\x00\x00\x00\xf8\x3f"
    assert encode_model_metrics(ModelMetrics([], 300, 1.5)) == tiny
    assert decode_model_metrics(tiny) == ModelMetrics([], 300, 1.5)
    # a negative int32 is sign-extended to 64 bits: ten varint bytes
    minus_one = b"\x10" + b"\xff" * 9 + b"\x01" + b"\x19" + bytes(8)
    assert encode_model_metrics(ModelMetrics([], -1, 0.0)) == minus_one
    assert decode_model_metrics(minus_one).trainable_parameters == -1
    # one evaluation: field 1, length 45 + 6 (path "ab"), doubles 108.0 = 0x405B000000000000 and 0.5
    evaluation = (b"\x09\x00\x00\x00\x00\x00\x00\x5b\x40" b"\x11\x00\x00\x00\x00\x00\x00\xe0\x3f"
                  b"\x19" + bytes(8) + b"\x21" + bytes(8) + b"\x29" + bytes(8) + b"\x32\x02ab")
    expected = b"\x0a\x31" + evaluation + b"\x10\x00\x19" + bytes(8)
    metrics = ModelMetrics([EvaluationData(108.0, 0.5, checkpoint_path="ab")], 0, 0.0)
    assert encode_model_metrics(metrics) == expected
    assert decode_model_metrics(expected) == metrics


def _metrics() -> ModelMetrics:
    return ModelMetrics([EvaluationData(0.0, 0.0, 0.1, 0.098, 0.1002),
                         EvaluationData(54.0, 1234.5, 0.87, 0.85, 0.846, "/m/model.ckpt-5\u00e9"),
                         EvaluationData(108.0, 2469.03125, 1.0, 0.9421073717948718, 0.9378004807692307)],
                        2_147_483_647, 2845.7)


def test_metrics_round_trip():
    metrics = _metrics()
    assert decode_model_metrics(encode_model_metrics(metrics)) == metrics
    for params in (-2_147_483_648, -5, 0, 127, 128, 16384):
        m = ModelMetrics(metrics.evaluation_data, params, -0.25)
        assert decode_model_metrics(encode_model_metrics(m)) == m
    with pytest.raises(ValueError, match="int32"):
        encode_model_metrics(ModelMetrics([], 2**31, 0.0))


def _unknown_fields() -> bytes:
    """Field 9 as each skippable wire type: varint (two bytes), fixed64, length-delimited, fixed32;
    then field 20 (a two-byte key) as a varint."""
    return (b"\x48\x96\x01" b"\x49" + bytes(range(8)) + b"\x4a\x03xyz" b"\x4d" + bytes(4)
            + b"\xa0\x01\x05")


def test_unknown_fields_are_skipped():
    metrics = _metrics()
    plain = encode_model_metrics(metrics)
    extra = _unknown_fields()
    # around each top-level field, and inside each evaluation (which takes the generic path)
    parts = []
    for evaluation in metrics.evaluation_data:
        body = extra + encode_model_metrics(ModelMetrics([evaluation]))[2:-11] + extra
        parts += [b"\x0a", bytes([len(body)]), body, extra]
    noisy = extra + b"".join(parts) + plain[-15:-9] + extra + plain[-9:] + extra
    assert len(noisy) > len(plain) + 100
    assert decode_model_metrics(noisy) == metrics
    # a known field number with another wire type is an unknown field too
    assert decode_model_metrics(b"\x15\x01\x02\x03\x04" + plain) == metrics


def test_int32_keeps_the_low_32_bits():
    assert decode_model_metrics(b"\x10\x80\x80\x80\x80\x10").trainable_parameters == 0  # 2**32
    assert decode_model_metrics(b"\x10\xff\xff\xff\xff\x07").trainable_parameters == 2**31 - 1
    assert decode_model_metrics(b"\x10\xff\xff\xff\xff\x1f").trainable_parameters == -1  # 2**33 - 1


@pytest.mark.parametrize("raw, match", [
    (b"\x0b", "group wire type 3"),
    (b"\x0c", "group wire type 4"),
    (b"\x4e\x00", "invalid wire type 6"),
    (b"\x4f\x00", "invalid wire type 7"),
    (b"\x10\xac", "varint truncated"),
    (b"\x10" + b"\xff" * 10 + b"\x01", "longer than 10 bytes"),
    (b"\x19\x00\x00", "double truncated"),
    (b"\x0a\x05\x09", "runs past the end"),
    (b"\x0a\x03\x09\x00\x00", "double truncated"),  # inside an evaluation, within its own length
    (b"\x49\x00", "truncated"),
    (b"\x4d\x00", "truncated"),
    (b"\x00\x00", "field number 0"),
])
def test_malformed_protobuf_is_refused(raw, match):
    with pytest.raises(ValueError, match=match):
        decode_model_metrics(raw)


# ---------------------------------------------------------------- records


def _record(dim: int = 5, seed: int = 0) -> NB101Record:
    rng = np.random.default_rng(seed)
    adjacency = np.triu(rng.integers(0, 2, (dim, dim)), 1).astype(np.int8)
    ops = ("input",) + tuple(str(op) for op in rng.choice(OPS[1:4], dim - 2)) + ("output",)
    return NB101Record(HASH, 108, adjacency, ops, _metrics())


def test_record_round_trip_and_official_layout():
    record = _record()
    payload = encode_record(record)
    back = parse_record(payload)
    assert back == record and back.adjacency.dtype == np.int8 and back.adjacency.shape == (5, 5)
    assert back != _record(seed=1)
    # api.py's own reading of the same bytes
    module_hash, epochs, raw_adjacency, raw_operations, raw_metrics = json.loads(payload.decode("utf-8"))
    dim = int(np.sqrt(len(raw_adjacency)))
    np.testing.assert_array_equal(np.array([int(e) for e in raw_adjacency], dtype=np.int8).reshape(dim, dim),
                                  record.adjacency)
    assert raw_operations.split(",") == list(record.ops) and (module_hash, epochs) == (HASH, 108)
    assert base64.b64decode(raw_metrics) == encode_model_metrics(record.metrics)
    assert payload.startswith(f'["{HASH}", 108, "0'.encode())  # json.dumps' default separators


def test_parse_hand_written_record():
    raw_metrics = base64.b64encode(b"\x10\xac\x02\x19" + bytes(8)).decode()
    payload = f'["{HASH}", 108, "0110000100000", "input,maxpool3x3,output", "{raw_metrics}"]'.encode()
    with pytest.raises(ValueError, match="13 characters"):
        parse_record(payload)
    payload = f'["{HASH}", 108, "011001000", "input,maxpool3x3,output", "{raw_metrics}"]'.encode()
    record = parse_record(payload)
    np.testing.assert_array_equal(record.adjacency, [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
    assert record.ops == ("input", "maxpool3x3", "output") and record.metrics == ModelMetrics([], 300, 0.0)


def _payload(**changes) -> bytes:
    row = dict(module_hash=HASH, epochs=108, adjacency="011001000", ops="input,maxpool3x3,output",
               metrics=base64.b64encode(b"\x10\x01").decode())
    row.update(changes)
    return json.dumps(list(row.values())).encode()


@pytest.mark.parametrize("payload, match", [
    (b"\xff[]", "not UTF-8 JSON"),
    (b"[1, 2", "not UTF-8 JSON"),
    (b'{"a": 1}', "JSON list of 5 items.*dict"),
    (json.dumps([HASH, 108, "0", "input"]).encode(), "length 4"),
    (_payload(module_hash="xyz"), "module_hash"),
    (_payload(module_hash=HASH.upper()), "module_hash"),
    (_payload(epochs="108"), "epochs"),
    (_payload(epochs=True), "epochs"),
    (_payload(epochs=0), "epochs"),
    (_payload(adjacency=["0"]), "JSON strings"),
    (_payload(adjacency="01100100"), "8 characters"),
    (_payload(adjacency=""), "0 characters"),
    (_payload(adjacency="011002000"), "only '0' and '1'"),
    (_payload(adjacency="01100100\u00e9"), "only '0' and '1'"),
    (_payload(ops="input,output"), "2 operations"),
    (_payload(metrics="EAE*"), "base64"),
    (_payload(metrics="EA"), "base64"),
    (_payload(metrics=base64.b64encode(b"\x10").decode()), "ModelMetrics protobuf: .*varint truncated"),
])
def test_malformed_records_are_refused(payload, match):
    with pytest.raises(ValueError, match=match):
        parse_record(payload)


def test_encode_record_refuses_what_it_cannot_write():
    record = _record(dim=3)
    with pytest.raises(ValueError, match="3 operations"):
        encode_record(NB101Record(HASH, 108, np.zeros((4, 4), np.int8), record.ops, record.metrics))
    with pytest.raises(ValueError, match="only 0 and 1"):
        encode_record(NB101Record(HASH, 108, np.full((3, 3), 2, np.int8), record.ops, record.metrics))
    with pytest.raises(ValueError, match="square"):
        encode_record(NB101Record(HASH, 108, np.zeros((3, 2), np.int8), record.ops, record.metrics))


def test_read_nb101_file(tmp_path):
    records = [_record(dim, seed) for seed, dim in enumerate((7, 5, 2, 7))]
    path = tmp_path / "nasbench_only108.tfrecord"
    write_records(path, (encode_record(r) for r in records))
    assert list(read_nb101_file(path)) == records
    payloads = [encode_record(r) for r in records]
    payloads[2] = _payload(ops="input")
    write_records(path, payloads)
    offset = len(payloads[0]) + len(payloads[1]) + 32
    reader = read_nb101_file(path)
    assert next(reader) == records[0]
    with pytest.raises(BenchmarkSourceError, match=rf"record 2 \(counting from 0\) at byte offset {offset} is not a "
                                                   r"NAS-Bench-101 record: 1 operations"):
        list(reader)
