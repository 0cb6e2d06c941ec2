"""The run's documents are typed and validated where they are read: a field of the wrong type, anywhere
in manifest.json or metrics.json, is one line naming the file and the field, and exit code 3, in every
command that reads a run. Documents round-trip, and runs written before the documents were typed load."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelscope.cli import main
from kernelscope.errors import EXIT_BAD_INPUT, BadInputError
from kernelscope.runs.codec import decode_document, encode_document, read_document
from kernelscope.runs.documents import Manifest, Metrics
from kernelscope.runs.store import MANIFEST, METRICS, load_run
from tests.helpers import RUNS

RUN = "int4-torchao"
# every command that reads a run, as a function of the run folder and a scratch folder
COMMANDS = {
    "summary": lambda run, tmp: ["summary", str(run)],
    "summary --json": lambda run, tmp: ["summary", str(run), "--json"],
    "compare": lambda run, tmp: ["compare", str(RUNS / "bf16"), str(run), "--format", "csv"],
    "export": lambda run, tmp: ["export", str(run), "--summary", str(tmp / "s.json"), "--force"],
    "reclassify": lambda run, tmp: ["reclassify", str(run)],
}


def leaves(value: object, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], object]]:
    """Every scalar / empty container in a JSON value, with its path."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list) and value:
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path, value


def wrong_type(value: object) -> object:
    """A JSON value no field holding `value` accepts."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, (int, float)):
        return "12x"
    if isinstance(value, str):
        return [1, 2]
    return 7  # a list or an object


def set_at(doc: object, path: tuple[str | int, ...], value: object) -> None:
    cur = doc
    for part in path[:-1]:
        cur = cur[part]  # type: ignore[index]
    cur[path[-1]] = value  # type: ignore[index]


def typed_leaves(name: str) -> list[tuple[tuple[str | int, ...], object]]:
    """The leaves of a recorded run's document that its type pins down (not null: Optional fields take more)."""
    doc = json.loads((RUNS / RUN / name).read_text())
    return [(p, v) for p, v in leaves(doc) if p and v is not None]


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


def damaged_copy(scratch: Path, name: str, path: tuple[str | int, ...], value: object) -> Path:
    run = scratch / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(RUNS / RUN, run)
    doc = json.loads((run / name).read_text())
    set_at(doc, path, value)
    (run / name).write_text(json.dumps(doc))
    return run


@pytest.mark.parametrize("name", [MANIFEST, METRICS])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_wrongly_typed_field_is_one_line_and_exit_3_in_every_command(scratch: Path, name: str,
                                                                        data: st.DataObject) -> None:
    path, original = data.draw(st.sampled_from(typed_leaves(name)))
    if name == MANIFEST and path in (("format",), ("version",)):
        return  # these two are checked before the rest, with their own words (test_store.py)
    command = data.draw(st.sampled_from(sorted(COMMANDS)))
    run = damaged_copy(scratch, name, path, wrong_type(original))
    code, err = run_cli(COMMANDS[command](run, scratch))
    assert code == EXIT_BAD_INPUT, (command, path, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    field = ".".join(str(p) for p in path if isinstance(p, str)).split(".")[0]
    assert lines[0].startswith(f"kernelscope: error: {run / name}: field {field}"), lines[0]


def test_the_tui_screenshot_refuses_a_damaged_run(scratch: Path) -> None:
    run = damaged_copy(scratch, METRICS, ("ttft_ms", "p50"), "fast")
    code, err = run_cli(["tui", str(run), "--screenshot", str(scratch / "x.svg")])
    assert code == EXIT_BAD_INPUT and "field ttft_ms.p50: expected float | null, got str" in err
    assert not (scratch / "x.svg").exists()


@pytest.mark.parametrize("name, kind", [(MANIFEST, Manifest), (METRICS, Metrics)])
def test_recorded_documents_round_trip(name: str, kind: type[msgspec.Struct]) -> None:
    """Runs written before the documents were typed load, and re-encode to the same values."""
    for run in sorted(p for p in RUNS.iterdir() if p.is_dir()):
        doc = read_document(run / name, kind)
        again = decode_document(encode_document(doc), kind, "<again>")
        assert again == doc
        original = json.loads((run / name).read_text())
        encoded = json.loads(encode_document(doc))
        for path, value in leaves(original):  # every key on disk keeps its name and its value
            cur: object = encoded
            for part in path:
                cur = cur[part]  # type: ignore[index]
            assert cur == value, (run.name, path)


def test_nan_written_by_older_writers_still_loads(tmp_path: Path) -> None:
    key = '"kld_slope_per_1k_tokens": '
    text = (RUNS / RUN / METRICS).read_text().replace(key, key + 'NaN, "x":', 1)
    (tmp_path / METRICS).write_text(text)
    assert read_document(tmp_path / METRICS, Metrics).quality is not None


def test_a_document_that_is_not_an_object(tmp_path: Path) -> None:
    (tmp_path / METRICS).write_text("[1, 2]")
    with pytest.raises(BadInputError, match=r"metrics.json: not a valid document: expected object, got array"):
        read_document(tmp_path / METRICS, Metrics)


def test_a_string_version_is_not_called_newer(tmp_path: Path) -> None:
    shutil.copytree(RUNS / RUN, tmp_path / "run")
    manifest = json.loads((tmp_path / "run" / MANIFEST).read_text())
    manifest["version"] = "1"
    (tmp_path / "run" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BadInputError, match=r"field version: expected an integer, got '1'"):
        load_run(tmp_path / "run")
