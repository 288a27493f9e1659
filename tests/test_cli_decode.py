"""``resultgate decode``: every fixture through the CLI, output formats, the error seam, exit codes."""

from __future__ import annotations

import base64
import json
import lzma
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

from resultgate import cli
from resultgate._errors import MalformedRecord, ResultgateError, TooLarge, UnsupportedSerializer
from support.cases import Case, case
from test_fixtures_decode import FILES, IDS, assert_matches, state_file

RESULTGATE = Path(sys.executable).parent / "resultgate"


def run(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli.main, list(args), input=input, catch_exceptions=False)


def assert_clean_failure(result: Result, code: int, *needles: str) -> None:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stderr.startswith("resultgate: error: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    for needle in needles:
        assert needle in result.stderr


# --- every fixture -----------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "entry"), FILES, ids=IDS)
def test_every_fixture_with_state_serializer(case: Case, entry: dict[str, Any]) -> None:
    path = case.dir / entry["file"]
    serializer = f"@{state_file(case, entry['owner'])}"
    result = run("decode", str(path), "--serializer", serializer, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert_matches(json.loads(result.stdout), case.expected(entry["owner"]))
    assert "note:" not in result.stderr


@pytest.mark.parametrize(("case", "entry"), FILES, ids=IDS)
def test_every_fixture_by_detection(case: Case, entry: dict[str, Any]) -> None:
    result = run("decode", str(case.dir / entry["file"]), "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert_matches(json.loads(result.stdout), case.expected(entry["owner"]))
    guessed = entry["serializer_in_file"] is None
    assert ("recognised from the content" in result.stderr) is guessed


@pytest.mark.parametrize("name", ["p3_pickle_str_default", "p3_json_dict", "p2_tasks_default"])
def test_real_subprocess(name: str) -> None:
    c = case(name)
    file = c.dir / c.results()[0]["file"]
    proc = subprocess.run(
        [
            str(RESULTGATE),
            "decode",
            str(file),
            "--serializer",
            f"@{c.dir / 'state.json'}",
            "--format",
            "json",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert_matches(json.loads(proc.stdout), c.expected("flow"))
    assert proc.stderr == b""


def test_real_subprocess_error_exit_code(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x00\x01garbage")
    proc = subprocess.run(
        [str(RESULTGATE), "decode", str(bad)], capture_output=True, timeout=60, check=False, text=True
    )
    assert proc.returncode == MalformedRecord.exit_code
    assert proc.stderr.startswith("resultgate: error: could not recognise the payload")
    assert "Traceback" not in proc.stderr


# --- formats -----------------------------------------------------------------------------------


def flow_file(name: str) -> Path:
    c = case(name)
    return c.dir / c.results()[0]["file"]


def test_text_prints_a_str_as_itself() -> None:
    result = run("decode", str(flow_file("p3_pickle_str_default")), "-s", "pickle")
    assert result.exit_code == 0
    assert result.stdout == "hello world"  # exactly the string when piped
    assert result.stderr == ""


def test_text_prints_other_values_as_json() -> None:
    result = run("decode", str(flow_file("p3_pickle_dict_nested")), "-s", "pickle")
    assert json.loads(result.stdout) == case("p3_pickle_dict_nested").expected("flow")["json"]


def test_repr_format() -> None:
    result = run("decode", str(flow_file("p3_failed_flow")), "--format", "repr", "-s", "pickle")
    assert result.stdout == "ValueError('boom: fixture failure 123')\n"


def test_raw_writes_the_stored_bytes() -> None:
    path = flow_file("p3_compressed_pickle")
    result = run("decode", str(path), "--format", "raw")
    assert result.exit_code == 0
    assert result.stdout_bytes == path.read_bytes()


def test_stdin() -> None:
    result = run("decode", "-", "-s", "json", input=b'{"a": [1, 2]}')
    assert json.loads(result.stdout) == {"a": [1, 2]}


def test_explain_goes_to_stderr() -> None:
    result = run("decode", str(flow_file("p3_pickle_datetime")), "--explain", "--format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["__class__"] == "datetime.datetime"
    assert "verdict:" in result.stderr
    assert "format: raw" in result.stderr


@pytest.mark.parametrize(
    "spec",
    [
        "compressed/pickle",
        '{"type": "compressed/pickle", "compressionlib": "lzma"}',
        '{"type": "compressed/pickle", "serializer": {"type": "pickle", "picklelib": "cloudpickle"}}',
    ],
)
def test_serializer_spec_forms(spec: str) -> None:
    result = run("decode", str(flow_file("p3_compressed_pickle")), "--serializer", spec, "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert_matches(json.loads(result.stdout), case("p3_compressed_pickle").expected("flow"))


def test_serializer_from_metadata_and_flow_run_files(tmp_path: Path) -> None:
    c = case("p3_compressed_zlib_json")
    metadata = tmp_path / "metadata.json"
    metadata.write_text(json.dumps(c.state["data"]))
    for spec_file in (metadata, c.dir / "flow_run.json"):
        result = run("decode", str(flow_file(c.name)), "--serializer", f"@{spec_file}", "-f", "json")
        assert result.exit_code == 0, result.stderr
        assert_matches(json.loads(result.stdout), c.expected("flow"))


def test_prefect2_state_serializer_type() -> None:
    c = case("p2_pickle_str_default")
    result = run("decode", str(flow_file(c.name)), "--serializer", f"@{c.dir / 'state.json'}")
    assert result.stdout == "hello world"  # exactly the string when piped


# --- errors ------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert_clean_failure(run("decode", str(tmp_path / "nope")), 4, "no such file")


def test_directory(tmp_path: Path) -> None:
    assert_clean_failure(run("decode", str(tmp_path)), 2, "is a directory")


def test_unknown_serializer_name() -> None:
    result = run("decode", str(flow_file("p3_pickle_none")), "--serializer", "yaml")
    assert_clean_failure(result, UnsupportedSerializer.exit_code, "'yaml'", "pickle")


def test_serializer_file_without_serializer(tmp_path: Path) -> None:
    spec = tmp_path / "x.json"
    spec.write_text('{"hello": 1}')
    result = run("decode", str(flow_file("p3_pickle_none")), "--serializer", f"@{spec}")
    assert_clean_failure(result, 2, "holds no serializer")


def test_bad_serializer_json() -> None:
    assert_clean_failure(run("decode", str(flow_file("p3_pickle_none")), "-s", "{oops"), 2, "not valid JSON")


@pytest.mark.parametrize(("data", "code"), [(b"", 9), (b"\xff\x00\xfe" * 50, 9), (b"gAVLKi4", 9)])
def test_bad_payloads(tmp_path: Path, data: bytes, code: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(data)
    assert_clean_failure(run("decode", str(path)), code)


def test_max_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "bomb"
    path.write_bytes(base64.encodebytes(lzma.compress(base64.encodebytes(b"\x00" * (4 << 20)), preset=0)))
    result = run("decode", str(path), "-s", "compressed/pickle", "--max-decompressed", "1M")
    assert_clean_failure(
        result, TooLarge.exit_code, "larger than 1048576 bytes", "RESULTGATE_MAX_DECOMPRESSED"
    )


def test_max_decompressed_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "bomb"
    path.write_bytes(base64.encodebytes(lzma.compress(base64.encodebytes(b"\x00" * (4 << 20)), preset=0)))
    result = CliRunner(env={"RESULTGATE_MAX_DECOMPRESSED": "2048"}).invoke(cli.main, ["decode", str(path)])
    assert_clean_failure(result, 7, "larger than 2048 bytes")


def test_bad_size_is_a_usage_error() -> None:
    result = run("decode", "x", "--max-decompressed", "lots")
    assert result.exit_code == 2
    assert "512M" in result.stderr


def test_keyboard_interrupt_exits_130_quietly(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr("resultgate._result.decode_record", interrupted)
    result = run("decode", str(flow_file("p3_pickle_none")))
    assert result.exit_code == 130
    assert result.stderr == ""


def test_unexpected_exception_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("resultgate._result.decode_record", broken)
    result = run("decode", str(flow_file("p3_pickle_none")))
    assert_clean_failure(result, 1, "RuntimeError: a bug", "report")


def test_error_seam_is_reusable() -> None:
    """Another command added to the group gets the same handling."""

    @cli.main.command("fails-for-test")
    def fails() -> None:
        raise TooLarge("too big here", hint="do less")

    try:
        result = run("fails-for-test")
    finally:
        cli.main.commands.pop("fails-for-test")
    assert_clean_failure(result, 7, "too big here", "resultgate: hint: do less")


def test_help_lists_exit_codes() -> None:
    for args in (["--help"], ["decode", "--help"]):
        text = run(*args).stdout
        for code in ("0   ok", "7   too large", "8   unsupported", "9   malformed", "130 interrupted"):
            assert code in text


def test_exit_codes_in_help_match_the_error_tree() -> None:
    text = run("--help").stdout
    for cls in (TooLarge, MalformedRecord, UnsupportedSerializer, ResultgateError):
        assert f"  {cls.exit_code} " in text


def test_pickle_with_no_cloudpickle_needed() -> None:
    result = run("decode", "-", "-s", "pickle", input=base64.encodebytes(pickle.dumps({"k": (1, 2)})))
    assert json.loads(result.stdout) == {"k": [1, 2]}


def test_click_group_is_a_click_group() -> None:
    assert isinstance(cli.main, click.Group)
    assert "decode" in cli.main.commands
