"""The render item cap scales with what was decoded: small payloads cannot explode,
large legitimate results still render whole."""

from __future__ import annotations

import base64
import lzma
import pickle
import time

import pytest

from resultgate import TooLarge, decode_record
from resultgate._limits import DEFAULT_LIMITS
from resultgate._result import MIN_RENDER_ITEMS, RENDER_ITEMS_PER_BYTE, render_limits


def test_a_small_payload_gets_the_minimum_cap() -> None:
    assert render_limits(DEFAULT_LIMITS, 300).max_render_items == MIN_RENDER_ITEMS


def test_a_large_payload_gets_a_proportional_cap_up_to_the_configured_one() -> None:
    assert render_limits(DEFAULT_LIMITS, 1_000_000).max_render_items == RENDER_ITEMS_PER_BYTE * 1_000_000
    assert render_limits(DEFAULT_LIMITS, 10**9) is DEFAULT_LIMITS


def _explosion(levels: int = 30) -> bytes:
    value: list[object] = ["x"]
    for _ in range(levels):
        value = [value, value]
    return base64.encodebytes(pickle.dumps(value, protocol=5))


def test_a_shared_reference_explosion_stops_quickly() -> None:
    result = decode_record(_explosion(), "pickle")
    start = time.monotonic()
    with pytest.raises(TooLarge):
        result.json()
    # bounded by the small cap, not by 2**30 values (generous bound for loaded machines)
    assert time.monotonic() - start < 20
    assert result.limits.max_render_items == MIN_RENDER_ITEMS


def test_a_compressed_payload_is_judged_by_its_decompressed_size() -> None:
    rows = [{"id": i, "name": f"r{i}"} for i in range(200_000)]
    inner = base64.encodebytes(pickle.dumps(rows, protocol=5))
    stored = base64.encodebytes(lzma.compress(inner))
    result = decode_record(stored, {"type": "compressed/pickle", "compressionlib": "lzma"})
    judged_by_inner = min(DEFAULT_LIMITS.max_render_items, RENDER_ITEMS_PER_BYTE * len(inner))
    assert result.limits.max_render_items == judged_by_inner
    assert judged_by_inner > RENDER_ITEMS_PER_BYTE * len(stored)  # the stored bytes are far smaller
    assert result.json() == rows


def test_the_result_repr_never_includes_the_value() -> None:
    result = decode_record(_explosion(), "pickle")
    text = repr(result)
    assert len(text) < 5000
    assert "value=" not in text
