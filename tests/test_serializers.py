"""The serializer registry, its decoders (one contract suite each), capped decompression, detection."""

from __future__ import annotations

import base64
import bz2
import gzip
import json
import lzma
import pickle
import zlib
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from resultgate._decode import serializers
from resultgate._decode.detect import detect_serializer
from resultgate._decode.serializers import (
    DecodeContext,
    b64decode_payload,
    decompress_capped,
    get,
    normalise_spec,
    register,
)
from resultgate._errors import MalformedRecord, TooLarge, UnsupportedSerializer, UsageError
from resultgate._limits import Limits

COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    "lzma": lzma.compress,
    "bz2": bz2.compress,
    "zlib": zlib.compress,
    "gzip": gzip.compress,
}
VALUE = {"n": 5, "items": [1, 2.5, "three", None, True], "nested": {"a": [[]]}}


def pickle_payload(value: Any) -> bytes:
    return base64.encodebytes(pickle.dumps(value, protocol=5))


def json_payload(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- registry ---------------------------------------------------------------------------------


def test_register_refuses_silent_override() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register(serializers.PickleDecoder())


def test_get_unknown_lists_known_types() -> None:
    with pytest.raises(UnsupportedSerializer) as info:
        get("my-custom")
    assert "'my-custom'" in info.value.message
    for name in ("pickle", "json", "compressed/pickle", "compressed/json", "compressed"):
        assert name in info.value.message
    assert info.value.exit_code == 8


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("pickle", {"type": "pickle", "picklelib": "cloudpickle", "picklelib_version": None}),
        ({"type": "pickle"}, {"type": "pickle", "picklelib": "cloudpickle", "picklelib_version": None}),
        (None, {"type": "pickle", "picklelib": "cloudpickle", "picklelib_version": None}),
        (
            {"type": "pickle", "picklelib": "dill"},
            {"type": "pickle", "picklelib": "dill", "picklelib_version": None},
        ),
        (
            "json",
            {
                "type": "json",
                "jsonlib": "json",
                "object_encoder": "prefect.serializers.prefect_json_object_encoder",
                "object_decoder": "prefect.serializers.prefect_json_object_decoder",
                "dumps_kwargs": {},
                "loads_kwargs": {},
            },
        ),
    ],
)
def test_normalise_spec_fills_defaults(spec: Any, expected: dict[str, Any]) -> None:
    assert normalise_spec(spec) == expected


def test_normalise_compressed_presets() -> None:
    cp = normalise_spec("compressed/pickle")
    assert cp["compressionlib"] == "lzma"
    assert cp["serializer"]["picklelib"] == "cloudpickle"
    cj = normalise_spec({"type": "compressed/json", "compressionlib": "zlib"})
    assert (cj["compressionlib"], cj["serializer"]["type"]) == ("zlib", "json")
    assert cj["serializer"]["object_decoder"] == "prefect.serializers.prefect_json_object_decoder"
    # a 3.x task state keeps only the type: the inner serializer is unknown until the bytes are seen
    assert normalise_spec({"type": "compressed"})["serializer"] is None
    inner_str = normalise_spec({"type": "compressed", "serializer": "json"})
    assert inner_str["serializer"]["type"] == "json"


def test_normalise_keeps_given_null_object_decoder() -> None:
    assert normalise_spec({"type": "json", "object_decoder": None})["object_decoder"] is None


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("nope", UnsupportedSerializer),
        ({"picklelib": "pickle"}, UnsupportedSerializer),
        ({"type": "compressed", "serializer": {"type": "bogus"}}, UnsupportedSerializer),
        ({"type": "compressed", "serializer": 5}, UnsupportedSerializer),
        ("", UsageError),
        (5, UsageError),
    ],
)
def test_normalise_refuses(spec: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        normalise_spec(spec)


# --- base64 and decompression ------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 56, 57, 58, 113, 114, 1000, 5701])
@pytest.mark.parametrize("layout", ["mime", "one-line", "crlf", "no-final-newline"])
def test_b64_accepts_every_layout(size: int, layout: str) -> None:
    raw = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    text = {
        "mime": base64.encodebytes(raw),
        "one-line": base64.b64encode(raw),
        "crlf": base64.encodebytes(raw).replace(b"\n", b"\r\n"),
        "no-final-newline": base64.encodebytes(raw).rstrip(b"\n"),
    }[layout]
    assert b64decode_payload(text) == raw


def test_b64_accepts_mime_lines() -> None:
    raw = bytes(range(256)) * 10
    assert b64decode_payload(base64.encodebytes(raw)) == raw


@pytest.mark.parametrize("payload", [b"gAVLKi4=\n{}", b"\x80\x05abc", b"hello world!", b"gAVL*i4="])
def test_b64_refuses_other_text(payload: bytes) -> None:
    with pytest.raises(MalformedRecord, match="not base64"):
        b64decode_payload(payload)


@pytest.mark.parametrize("payload", [b"gAVL Ki4=", b"gAVLKi4=\n\x00", b"AAAA*AAA", b"AAAAAAA\xff"])
def test_b64_refuses_bytes_the_lenient_decoder_would_skip(payload: bytes) -> None:
    with pytest.raises(MalformedRecord, match="not base64"):
        b64decode_payload(payload)


@pytest.mark.parametrize("payload", [b"AAA=BBBB", b"AA==\nAAAA\n", b"AAAA====", b"gAVLKi4", b"gAVLK", b"g"])
def test_b64_refuses_bad_padding(payload: bytes) -> None:
    with pytest.raises(MalformedRecord, match="truncated or damaged"):
        b64decode_payload(payload)


@pytest.mark.parametrize("lib", sorted(COMPRESS))
def test_decompress_round_trip(lib: str) -> None:
    data = b"prefect " * 50_000
    assert decompress_capped(COMPRESS[lib](data), lib, cap=len(data)) == data


@pytest.mark.parametrize("lib", sorted(COMPRESS))
def test_decompress_cap_is_exact(lib: str) -> None:
    data = b"z" * 1000
    with pytest.raises(TooLarge, match="larger than 999 bytes") as info:
        decompress_capped(COMPRESS[lib](data), lib, cap=999)
    assert "RESULTGATE_MAX_DECOMPRESSED" in str(info.value)


@pytest.mark.parametrize("lib", sorted(COMPRESS))
def test_decompress_concatenated_members_like_the_stdlib(lib: str) -> None:
    data = COMPRESS[lib](b"first ") + COMPRESS[lib](b"second")
    stdlib = {
        "lzma": lzma.decompress,
        "bz2": bz2.decompress,
        "gzip": gzip.decompress,
        "zlib": zlib.decompress,
    }
    assert decompress_capped(data, lib, cap=100) == stdlib[lib](data)
    assert stdlib[lib](data) == (b"first " if lib == "zlib" else b"first second")


def test_gzip_multi_member_matches_stdlib() -> None:
    data = gzip.compress(b"a" * 10) + gzip.compress(b"b" * 10) + b"\x00\x00"
    assert decompress_capped(data, "gzip", cap=100) == gzip.decompress(data)


@pytest.mark.parametrize("lib", sorted(COMPRESS))
def test_decompress_truncated(lib: str) -> None:
    data = COMPRESS[lib](bytes(range(256)) * 400)
    with pytest.raises(MalformedRecord):
        decompress_capped(data[: len(data) // 2], lib, cap=1 << 20)


@pytest.mark.parametrize("lib", sorted(COMPRESS))
def test_decompress_garbage(lib: str) -> None:
    with pytest.raises(MalformedRecord):
        decompress_capped(b"this is not compressed at all" * 3, lib, cap=1 << 20)


def test_decompress_unknown_lib() -> None:
    with pytest.raises(UnsupportedSerializer, match="snappy"):
        decompress_capped(b"x", "snappy", cap=10)


# --- library allowlists: names are checked before anything happens -------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        {"type": "pickle", "picklelib": "os"},
        {"type": "json", "jsonlib": "os"},
        {"type": "json", "object_decoder": "os.system"},
        {"type": "compressed/pickle", "compressionlib": "os"},
        {"type": "compressed", "compressionlib": "lzma", "serializer": {"type": "pickle", "picklelib": "os"}},
    ],
)
def test_unknown_library_names_are_refused(spec: dict[str, Any]) -> None:
    full = normalise_spec(spec)
    payload = base64.encodebytes(lzma.compress(pickle_payload(1)))
    with pytest.raises(UnsupportedSerializer, match="'os"):
        get(full["type"]).decode(payload, full, DecodeContext())


def test_json_object_encoder_is_never_needed() -> None:
    spec = normalise_spec({"type": "json", "object_encoder": "some.module.that_does_not_exist"})
    assert get("json").decode(b"[1, 2]", spec, DecodeContext()) == [1, 2]


# --- one contract suite per decoder ---------------------------------------------------------------


class DecoderContract:
    spec: ClassVar[dict[str, Any]]

    def encode(self, value: Any) -> bytes:
        raise NotImplementedError

    def decode(self, payload: bytes, limits: Limits | None = None) -> Any:
        full = normalise_spec(self.spec)
        ctx = DecodeContext(limits=limits or Limits())
        return get(full["type"]).decode(payload, full, ctx)

    def test_round_trip(self) -> None:
        assert self.decode(self.encode(VALUE)) == VALUE

    def test_round_trip_str(self) -> None:
        assert self.decode(self.encode("hello wörld")) == "hello wörld"

    @pytest.mark.parametrize("payload", [b"", b"  \n"])
    def test_empty(self, payload: bytes) -> None:
        with pytest.raises(MalformedRecord):
            self.decode(payload)

    def test_truncated(self) -> None:
        payload = self.encode(VALUE)
        with pytest.raises(MalformedRecord):
            self.decode(payload[: len(payload) // 2])

    def test_garbage(self) -> None:
        with pytest.raises(MalformedRecord):
            self.decode(b"\x00\x01\x02 not a result \xff")


class TestPickle(DecoderContract):
    spec: ClassVar[dict[str, Any]] = {"type": "pickle"}

    def encode(self, value: Any) -> bytes:
        return pickle_payload(value)

    def test_binary_pickle_is_accepted(self) -> None:
        assert self.decode(pickle.dumps(VALUE, protocol=5)) == VALUE


class TestJSON(DecoderContract):
    spec: ClassVar[dict[str, Any]] = {"type": "json"}

    def encode(self, value: Any) -> bytes:
        return json_payload(value)


class TestJSONUntagged(DecoderContract):
    spec: ClassVar[dict[str, Any]] = {"type": "json", "object_decoder": None}

    def encode(self, value: Any) -> bytes:
        return json_payload(value)

    def test_tags_stay_plain_dicts(self) -> None:
        tagged = {"__class__": "datetime.date", "data": "2024-02-29"}
        assert self.decode(json_payload(tagged)) == tagged


def _compressed_contract(kind: str, lib: str) -> type[DecoderContract]:
    inner_encode = pickle_payload if kind.endswith("pickle") else json_payload

    class Compressed(DecoderContract):
        spec: ClassVar[dict[str, Any]] = {"type": kind, "compressionlib": lib}

        def encode(self, value: Any) -> bytes:
            return base64.encodebytes(COMPRESS[lib](inner_encode(value)))

        def test_bomb_stops_at_cap(self) -> None:
            bomb = base64.encodebytes(COMPRESS[lib](b"\x00" * (8 << 20)))
            with pytest.raises(TooLarge, match="larger than 1048576 bytes"):
                self.decode(bomb, Limits(max_decompressed_bytes=1 << 20))

    Compressed.__name__ = f"Test_{kind.replace('/', '_')}_{lib}"
    return Compressed


for _kind in ("compressed/pickle", "compressed/json"):
    for _lib in COMPRESS:
        _cls = _compressed_contract(_kind, _lib)
        globals()[_cls.__name__] = _cls


class TestCompressedWithoutInner(DecoderContract):
    """A 3.x task state's truncated ``{"type": "compressed"}``: the inner output is recognised."""

    spec: ClassVar[dict[str, Any]] = {"type": "compressed"}

    def encode(self, value: Any) -> bytes:
        return base64.encodebytes(lzma.compress(pickle_payload(value)))

    def test_json_inside(self) -> None:
        assert self.decode(base64.encodebytes(lzma.compress(json_payload(VALUE)))) == VALUE


class TestText(DecoderContract):
    spec: ClassVar[dict[str, Any]] = {"type": "text"}

    def encode(self, value: Any) -> bytes:
        return value.encode() if isinstance(value, str) else json_payload(value)

    def test_round_trip(self) -> None:
        assert self.decode(b"plain text") == "plain text"

    @pytest.mark.parametrize("payload", [b""])
    def test_empty(self, payload: bytes) -> None:
        assert self.decode(payload) == ""

    def test_truncated(self) -> None:
        with pytest.raises(MalformedRecord):
            self.decode("é".encode()[:1])

    def test_garbage(self) -> None:
        with pytest.raises(MalformedRecord):
            self.decode(b"\xff\xfe")


# --- detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (pickle_payload("hello"), ("pickle", None, None)),
        (pickle.dumps({"a": 1}, protocol=5), ("pickle", None, None)),
        (base64.encodebytes(pickle.dumps([1], protocol=2)), ("pickle", None, None)),
        (base64.encodebytes(pickle.dumps({"a": [1]}, protocol=0)), ("pickle", None, None)),
        (base64.encodebytes(pickle.dumps({"a": [1]}, protocol=1)), ("pickle", None, None)),
        (b'{"hello": "world", "x": 3}', ("json", None, None)),
        (b"  [1, 2]", ("json", None, None)),
        (b"42", ("json", None, None)),
        (b"-1.5", ("json", None, None)),
        (b'"text"', ("json", None, None)),
        (b"null", ("json", None, None)),
        (b"true", ("json", None, None)),
        (b"false", ("json", None, None)),
        *[
            (base64.encodebytes(COMPRESS[lib](pickle_payload(VALUE))), ("compressed/pickle", lib, "pickle"))
            for lib in COMPRESS
        ],
        *[
            (base64.encodebytes(COMPRESS[lib](json_payload(VALUE))), ("compressed/json", lib, "json"))
            for lib in COMPRESS
        ],
    ],
)
def test_detect(payload: bytes, expected: tuple[str, str | None, str | None]) -> None:
    spec = detect_serializer(payload)
    inner = spec.get("serializer")
    assert (spec["type"], spec.get("compressionlib"), inner and inner["type"]) == expected
    assert spec == normalise_spec(spec)  # complete


@pytest.mark.parametrize(
    "payload",
    [b"hello world", b"\x00\x01\x02\x03", b"\xff" * 100, base64.encodebytes(b"just some bytes")],
)
def test_detect_refuses_unknown(payload: bytes) -> None:
    with pytest.raises(MalformedRecord, match="pass --serializer"):
        detect_serializer(payload)


@pytest.mark.parametrize("payload", [b"", b" \n\t"])
def test_detect_empty(payload: bytes) -> None:
    with pytest.raises(MalformedRecord, match="empty"):
        detect_serializer(payload)
