"""The ``resultgate`` command line: parse input, call the library, format output.

Every command runs inside :class:`ResultgateGroup`, which turns a
:class:`ResultgateError` into one line on stderr and the error's exit code.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from resultgate._cli_options import connection_options, settings_from_flags
from resultgate._errors import NotFound, ResultgateError, UsageError

if TYPE_CHECKING:
    from resultgate._result import Result
    from resultgate._service import ExportItem

__all__ = ["ResultgateGroup", "main", "parse_serializer_option", "report_error"]

#: exit codes shown in --help; each error class carries its own
_EXIT_CODES = (
    "Exit codes:\n\n"
    "\b\n"
    "  0   ok\n"
    "  1   unexpected error\n"
    "  2   usage error (bad option, argument or serializer spec)\n"
    "  3   configuration error\n"
    "  4   not found (no such id, file or result)\n"
    "  5   the state has no persisted result\n"
    "  6   the result has expired\n"
    "  7   too large (decompressed or rendered past a limit)\n"
    "  8   unsupported serializer or library name\n"
    "  9   malformed result file\n"
    "  10  refused (path or protocol not allowed)\n"
    "  11  Prefect or storage failed\n"
    "  12  Prefect or storage timed out\n"
    "  13  credentials refused\n"
    "  14  optional backend not installed\n"
    "  130 interrupted"
)


def report_error(exc: ResultgateError) -> None:
    """The one line (and the hint, if any) a failed command prints on stderr."""
    click.echo(f"resultgate: error: {exc.message}", err=True)
    if exc.hint:
        click.echo(f"resultgate: hint: {exc.hint}", err=True)


class ResultgateGroup(click.Group):
    """A click group whose commands fail with one clear line and the error's exit code, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ResultgateError as exc:
            report_error(exc)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            ctx.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as exc:
            if exc.errno == errno.EPIPE:  # the reader went away (e.g. `| head`); click handles it
                raise
            report_error(ResultgateError(f"unexpected error: {exc}", hint="please report this as a bug"))
            ctx.exit(ResultgateError.exit_code)
        except Exception as exc:
            name = type(exc).__name__
            report_error(
                ResultgateError(f"unexpected error: {name}: {exc}", hint="please report this as a bug")
            )
            ctx.exit(ResultgateError.exit_code)


@click.group(
    cls=ResultgateGroup, epilog=_EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.version_option(package_name="resultgate", prog_name="resultgate")
def main() -> None:
    """Read the values Prefect flows and tasks returned, safely.

    Nothing named inside a result is imported or run: objects that are not plain
    data are shown as placeholders, and every decode has a safety report.
    """


_format_option = click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(["text", "json", "repr", "raw"]),
    default="text",
    show_default=True,
    help="text: a str result exactly as itself (piped: no newline added), anything else as indented "
    "JSON. json: only the JSON rendering (for jq). repr: a Python-like repr. raw: the stored bytes.",
)


# --- decode --------------------------------------------------------------------------------------


def parse_serializer_option(spec: str) -> Mapping[str, Any] | str:
    """``--serializer``: a JSON object, ``@file.json`` (a state, a run, or a record's metadata), or a name."""
    text = spec.strip()
    if text.startswith("@"):
        return _serializer_from_file(Path(text[1:]))
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"--serializer is not valid JSON: {exc}") from exc
        if not isinstance(obj, dict):
            raise UsageError('--serializer JSON must be an object like {"type": "pickle"}')
        return obj
    return text


def _serializer_from_file(path: Path) -> Mapping[str, Any]:
    try:
        obj = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {path}") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}") from exc
    found = _find_serializer(obj)
    if found is None:
        raise UsageError(
            f"{path} holds no serializer",
            hint="give a state JSON from the API (data.serializer or data.serializer_type) "
            "or a result record's metadata (serializer)",
        )
    return found


def _find_serializer(obj: Any) -> Mapping[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("state"), dict) and "data" not in obj:  # a flow run or task run
        obj = obj["state"]
    data = obj.get("data") if "data" in obj else obj
    if not isinstance(data, dict):
        return None
    serializer = data.get("serializer")
    if isinstance(serializer, dict):
        return serializer
    if isinstance(data.get("serializer_type"), str):  # 2.x reference
        return {"type": data["serializer_type"]}
    return None


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def _parse_size(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """An integer number of bytes, optionally with a K, M or G suffix (powers of 1024)."""
    if value is None:
        return None
    text = value.strip().upper().removesuffix("B").removesuffix("I")
    unit = text[-1:] if text[-1:] in ("K", "M", "G") else ""
    try:
        number = int(text[: len(text) - len(unit)])
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a size such as 1048576, 512M or 4G") from None
    if number <= 0:
        raise click.BadParameter("the size must be positive")
    return number * _UNITS[unit]


def _read_input(path: str) -> tuple[bytes, str]:
    if path == "-":
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        return Path(path).read_bytes(), path
    except FileNotFoundError as exc:
        raise NotFound(f"no such file: {path}") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"{path} is a directory, not a result file") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc


@main.command(epilog=_EXIT_CODES)
@click.argument("path", metavar="PATH|-")
@click.option(
    "--serializer",
    "-s",
    metavar="SPEC",
    help="How the bytes were written, for raw files (3.x flow results): a JSON object as in a "
    "state's data.serializer, a type name (pickle, json, compressed/pickle, compressed/json), or "
    "@FILE with a state JSON from the API or a result record's metadata. Self-describing files "
    "(3.x task records, 2.x blobs) use their own. Without it the serializer is recognised from "
    "the content.",
)
@_format_option
@click.option(
    "--explain", is_flag=True, help="Print the safety report (what the result names and carries) to stderr."
)
@click.option(
    "--max-decompressed",
    metavar="BYTES",
    callback=_parse_size,
    envvar="RESULTGATE_MAX_DECOMPRESSED",
    show_envvar=True,
    help="Stop decompressing past this size (bytes; K, M, G suffixes allowed). Default 2G.",
)
def decode(path: str, serializer: str | None, fmt: str, explain: bool, max_decompressed: int | None) -> None:
    """Decode one result file (or stdin) and print its value.

    \b
    Examples:
      resultgate decode ~/.prefect/storage/1dbf33cd...          # recognise the serializer
      resultgate decode FILE --serializer @state.json          # as the API describes it
      resultgate decode FILE --format json | jq .rows
    """
    data, location = _read_input(path)
    if fmt == "raw":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from resultgate._limits import DEFAULT_LIMITS
    from resultgate._result import decode_record

    limits = DEFAULT_LIMITS
    if max_decompressed is not None:
        limits = dataclasses.replace(limits, max_decompressed_bytes=max_decompressed)
    spec = parse_serializer_option(serializer) if serializer is not None else None
    result = decode_record(data, spec, limits=limits)
    if result.serializer_guessed:
        click.echo(
            f"resultgate: note: no serializer given; read {location} as {_describe(result.serializer)} "
            "(recognised from the content; pass --serializer to choose)",
            err=True,
        )
    _emit(result, fmt, explain)


def _emit(result: Result, fmt: str, explain: bool) -> None:
    """Print a result in the chosen format; the safety report goes to stderr."""
    if explain:
        _explain(result.safety.to_dict(), result.format, result.serializer)
    if fmt == "raw":
        sys.stdout.buffer.write(result.raw)
        sys.stdout.buffer.flush()
    elif fmt == "json":
        click.echo(json.dumps(result.json(), ensure_ascii=False))
    elif fmt == "repr":
        click.echo(result.repr())
    elif isinstance(result.value, str) and not sys.stdout.isatty():
        # exactly the string: `resultgate get ID > file` holds the value and nothing more
        click.echo(result.value, nl=False)
    else:
        click.echo(result.text())


def _describe(serializer: Mapping[str, Any]) -> str:
    name = str(serializer.get("type"))
    inner = serializer.get("serializer")
    if isinstance(inner, Mapping):
        name += f" ({serializer.get('compressionlib')} over {inner.get('type')})"
    return name


def _explain(report: Mapping[str, Any], fmt: str, serializer: Mapping[str, Any]) -> None:
    click.echo(f"format: {fmt}", err=True)
    click.echo(f"serializer: {json.dumps(serializer)}", err=True)
    for key, value in report.items():
        shown = ", ".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        click.echo(f"{key}: {shown if shown not in ('', None) else '-'}", err=True)


# --- get and export ------------------------------------------------------------------------------

_KINDS = click.Choice(["flow_run_state", "task_run_state", "flow_run", "task_run"])


@main.command(epilog=_EXIT_CODES)
@click.argument("id")
@click.option(
    "--kind",
    type=_KINDS,
    help="What ID names. Without it the id is looked up as a flow-run state, a task-run state, "
    "a flow run, then a task run (a run gives its current state's result).",
)
@_format_option
@click.option(
    "--explain", is_flag=True, help="Print the safety report and where the result was read to stderr."
)
@connection_options
def get(
    id: str,
    kind: str | None,
    fmt: str,
    explain: bool,
    api_url: str | None,
    api_key: str | None,
    maps: tuple[str, ...],
    roots: tuple[str, ...],
    timeout: float | None,
) -> None:
    """Print the value behind a Prefect id: what the flow or task returned.

    \b
    Examples:
      resultgate get 01a242b7-687c-7eab-b0f4-cdcd8cccb49c          # a flow-run state id
      resultgate get $FLOW_RUN_ID --format json | jq .
      resultgate get $ID --map /srv/worker/.prefect/storage=/mnt/results
    """
    from resultgate._service import ResultService

    settings = settings_from_flags(api_url=api_url, api_key=api_key, maps=maps, roots=roots, timeout=timeout)
    settings.require_api_url()
    service = ResultService(settings)
    try:
        result = service.fetch(id, kind)  # type: ignore[arg-type]
    finally:
        service.close()
    state = result.state
    if state is not None and state.type in ("FAILED", "CRASHED"):
        click.echo(f"resultgate: note: the state is {state.type}: {state.message or state.name}", err=True)
    if explain:
        click.echo(f"read from: {result.location or 'inline in the state'}", err=True)
    _emit(result, fmt, explain)


@main.command(epilog=_EXIT_CODES)
@click.argument("flow_run_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the JSON lines to this file (written whole or not at all) instead of stdout.",
)
@connection_options
def export(
    flow_run_id: str,
    output: str | None,
    api_url: str | None,
    api_key: str | None,
    maps: tuple[str, ...],
    roots: tuple[str, ...],
    timeout: float | None,
) -> None:
    """Export a flow run's result and every task run's, as JSON lines.

    One object per run: kind, run_id, run_name, state_id, state_type, state_name,
    status (ok, no-result, missing, expired, too-large, error) and the value's JSON
    rendering or the error. A progress bar shows on a terminal; piped, stdout holds
    nothing but JSON lines.
    """
    from resultgate._service import ResultService

    settings = settings_from_flags(api_url=api_url, api_key=api_key, maps=maps, roots=roots, timeout=timeout)
    settings.require_api_url()
    service = ResultService(settings)
    try:
        total, items = service.export(flow_run_id)
        lines = _export_lines(total, items, settings.inline_limit)
        if output is None:
            for line in lines:
                click.echo(line)
        else:
            _write_whole(Path(output), lines)
    finally:
        service.close()


def _export_lines(total: int, items: Iterator[ExportItem], inline_limit: int) -> Iterator[str]:
    """JSON lines, with a progress bar on stderr when it is a terminal."""
    progress = None
    if sys.stderr.isatty():
        from rich.progress import Progress

        progress = Progress(transient=True, console=_stderr_console())
        progress.start()
    task = progress.add_task("reading results", total=total) if progress else None
    try:
        for item in items:
            rendering, truncated = (None, False)
            if item.result is not None:
                rendering, truncated = _render_line_value(item.result, inline_limit)
            yield json.dumps(item.to_json(rendering=rendering, truncated=truncated), ensure_ascii=False)
            if progress is not None and task is not None:
                progress.advance(task)
    finally:
        if progress is not None:
            progress.stop()


def _render_line_value(result: Result, inline_limit: int) -> tuple[Any, bool]:
    from resultgate._errors import TooLarge

    try:
        return result.json(), False
    except TooLarge:
        return result.preview()


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _write_whole(path: Path, lines: Iterator[str]) -> None:
    """Write to a temporary file beside ``path`` and rename it: never a partial file."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _attach_serve() -> None:
    from resultgate.server.cli import serve_command

    main.add_command(serve_command, "serve")


_attach_serve()
