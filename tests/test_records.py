"""parse_record: strict envelope classification (formats doc §0 step 6, §3.5)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from resultgate._decode.records import parse_record
from support.cases import result_files

PICKLE_SER = {"type": "pickle", "picklelib": "cloudpickle", "picklelib_version": None}


def test_prefect3_record() -> None:
    record = {"metadata": {"storage_key": "/k", "serializer": PICKLE_SER}, "result": "gAVLKi4=\n"}
    parsed = parse_record(json.dumps(record, separators=(",", ":")).encode())
    assert parsed.format == "prefect3-record"
    assert parsed.serializer == PICKLE_SER
    assert parsed.payload == b"gAVLKi4=\n"
    assert parsed.metadata is not None
    assert parsed.metadata["storage_key"] == "/k"


def test_prefect2_blob() -> None:
    blob = {"serializer": PICKLE_SER, "data": "gAVLKi4=\n", "prefect_version": "2.20.27"}
    parsed = parse_record(json.dumps(blob).encode())
    assert parsed.format == "prefect2-blob"
    assert parsed.serializer == PICKLE_SER
    assert parsed.payload == b"gAVLKi4=\n"
    assert parsed.metadata == {"serializer": PICKLE_SER, "prefect_version": "2.20.27"}


def test_prefect2_blob_with_expiration() -> None:
    blob = {"serializer": {"type": "json"}, "data": "[1]", "prefect_version": "2.1", "expiration": None}
    assert parse_record(json.dumps(blob).encode()).format == "prefect2-blob"


@pytest.mark.parametrize(
    ("encoding", "serializer_type"),
    [("cloudpickle", "pickle"), ("pickle", "pickle"), ("json", "json"), ("text", "text")],
)
def test_datadocument(encoding: str, serializer_type: str) -> None:
    blob = base64.encodebytes(b"\x80\x05K*.").decode()
    parsed = parse_record(json.dumps({"encoding": encoding, "blob": blob}).encode())
    assert parsed.format == "datadocument"
    assert parsed.serializer is not None
    assert parsed.serializer["type"] == serializer_type
    assert parsed.payload == blob.encode()


def test_datadocument_json_is_untagged() -> None:
    parsed = parse_record(b'{"encoding": "json", "blob": "[1, 2]"}')
    assert parsed.serializer == {"type": "json", "object_decoder": None}


@pytest.mark.parametrize(
    "value",
    [
        {"result": 5, "other": 1},  # the data-key trap, 3.x side
        {"data": "hello"},  # the data-key trap, 2.x side
        {"metadata": {"serializer": "pickle"}, "result": "x"},  # serializer not a dict
        {"metadata": {"serializer": {"type": "pickle"}}, "result": "x", "extra": 1},
        {"metadata": {"serializer": {"type": "pickle"}}, "result": 5},  # result not a str
        {"serializer": {"type": "pickle"}, "data": 5, "prefect_version": "2"},  # data not a str
        {"serializer": {"type": "pickle"}, "data": "x", "prefect_version": "2", "user": 1},
        {"serializer": {"no-type": 1}, "data": "x"},
        {"encoding": "utf8", "blob": "hello"},  # an encoding no DataDocument had: a value
        {"encoding": "json", "blob": "x", "more": 1},
        {"hello": "world", "x": 3},
    ],
)
def test_raw_json_values_are_values(value: object) -> None:
    data = json.dumps(value).encode()
    parsed = parse_record(data)
    assert parsed.format == "raw"
    assert parsed.serializer is None
    assert parsed.payload is data


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"gAVLKi4=\n", b"[1, 2]", b"42", b"\x80\x05K*.", b"{not json", b"{\xff\xfe", b"\x00" * 10],
)
def test_non_envelopes_are_raw(data: bytes) -> None:
    parsed = parse_record(data)
    assert (parsed.format, parsed.serializer, parsed.payload) == ("raw", None, data)


def test_leading_whitespace_is_allowed() -> None:
    record = {"metadata": {"serializer": {"type": "json"}}, "result": "1"}
    assert parse_record(b"\n  " + json.dumps(record).encode()).format == "prefect3-record"


def test_deep_json_is_raw_not_recursion_error() -> None:
    data = b'{"data": ' * 200_000 + b"1" + b"}" * 200_000
    assert parse_record(data).format == "raw"


def test_big_raw_json_value_is_not_parsed() -> None:
    # the first key rules the envelope out: no json.loads on 50 MB
    data = b'{"rows": [' + b"1, " * 17_000_000 + b"1]}"
    start = time.perf_counter()
    assert parse_record(data).format == "raw"
    assert time.perf_counter() - start < 0.05


def test_big_base64_is_cheap() -> None:
    data = base64.encodebytes(b"\x80\x05" + b"x" * 60_000_000)
    start = time.perf_counter()
    assert parse_record(data).payload is data
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize(
    ("case", "entry"), result_files(), ids=lambda v: getattr(v, "name", None) or v["owner"]
)
def test_fixture_files_classify_as_recorded(case: object, entry: dict[str, object]) -> None:
    parsed = parse_record(case.file_bytes(entry["file"]))  # type: ignore[attr-defined]
    expected_format = {
        "prefect2-persisted-result-blob-json": "prefect2-blob",
        "prefect3-result-record-json": "prefect3-record",
    }.get(str(entry["file_format"]), "raw")
    assert parsed.format == expected_format
    assert parsed.serializer == entry["serializer_in_file"]
