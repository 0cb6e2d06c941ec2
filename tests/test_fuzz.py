"""Fuzzing the contract of every command: whatever flags, values, traces or output paths it is given, a
command returns an exit code (0, or one line on stderr and 2-5 / 128+n), never raises, never prints a
traceback, and touches no file outside the run or the output it was asked for.

Hypothesis draws the cases; `KERNELSCOPE_FUZZ_EXAMPLES` sets how many per test (default 150: a round of
several hundred cases in the suite; set it higher for a long hunt)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernelscope.cli import build_parser, main
from tests.helpers import RUNS

EXAMPLES = int(os.environ.get("KERNELSCOPE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
OUTCOMES = {True: 0, False: 0}  # how many drawn commands succeeded / failed (the fuzz must reach both)
COMMANDS = ("summary", "export", "compare", "explain", "analyze", "modes", "reclassify")
WEIRD = ["", "-1", "0", "1", "7", "1e309", "nan", "inf", "-inf", "x", "1:0", "5:3", "0:1", "2**62", "9" * 30, " ",
         "\x1b[2J", "é", "../..", "a,b", ",", "kld_mean<1", "kld_mean<1.2.3", "nf4", "int4@hqq", "rich", "md"]


def run_main(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # only argparse's own --help / --version may end this way
            code = exc.code if isinstance(exc.code, int) else 0
    return code, err.getvalue()


def check_contract(code: int, stderr: str, argv: list[str]) -> None:
    assert isinstance(code, int), argv
    assert "Traceback" not in stderr, (argv, stderr)
    if code:
        assert code in (2, 3, 4, 5) or code > 128, (argv, code, stderr)
        errors = [line for line in stderr.splitlines() if line.startswith("kernelscope: error:")]
        assert len(errors) <= 1, (argv, stderr)


def options_of(command: str) -> list[argparse.Action]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return [a for a in sub._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    for name in ("bf16", "int4-torchao"):
        shutil.copytree(RUNS / name, root / name)
    (root / "names.txt").write_text("kgemm_4bit_inference_naive<__nv_bfloat16, 128, 16>\nnvjet_tst_1\n")
    return root


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
            and not p.is_symlink()}


@FUZZ
@given(data=st.data())
def test_commands_keep_the_contract_whatever_the_flags(data: st.DataObject, sandbox: Path,
                                                       tmp_path_factory: pytest.TempPathFactory) -> None:
    command = data.draw(st.sampled_from(COMMANDS))
    out = tmp_path_factory.mktemp("out")
    paths = [str(sandbox / "bf16"), str(sandbox / "int4-torchao"), str(sandbox / "bf16" / "trace.json.gz"),
             str(sandbox / "names.txt"), str(out / "o.json"), str(out / "o.md"), str(out / "o.csv"),
             str(out / "o.json.gz"), str(out / "run"), str(out / "deep" / "x.parquet"), "/dev/null", str(out)]
    value = st.one_of(st.sampled_from(WEIRD), st.sampled_from(paths), st.text(max_size=12))
    fitting = {"summary": paths[:2], "export": paths[:2], "compare": paths[:2], "reclassify": paths[:2],
               "explain": ["nvjet_tst_1", "kDequantizeBlockwise<float>", "aten::mm", "\x1b[2Jx"], "analyze": paths[2:3],
               "modes": [""]}[command]
    pool = st.sampled_from(fitting) if data.draw(st.integers(0, 9)) else st.sampled_from(paths)  # mostly sensible
    positional = [p for p in data.draw(st.lists(pool, min_size=1, max_size=3)) if p]
    argv = [command, *positional]
    options = options_of(command)
    for action in data.draw(st.lists(st.sampled_from(options), max_size=4, unique_by=id)) if options else []:
        argv.append(action.option_strings[-1])
        if action.nargs != 0:
            argv.append(data.draw(st.sampled_from([str(c) for c in action.choices]) if action.choices else value))
    runs_before = {name: snapshot(sandbox / name) for name in ("bf16", "int4-torchao")}
    code, stderr = run_main(argv)
    check_contract(code, stderr, argv)
    OUTCOMES[code == 0] += 1
    if command != "reclassify":  # the one command whose job is to rewrite a run
        for name, files in runs_before.items():
            assert snapshot(sandbox / name) == files, (argv, name)


def mutate(value: Any, draw: Any, depth: int = 0) -> Any:
    """One random change somewhere inside a JSON value."""
    junk = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8), st.just([]), st.just({}),
                     st.just([[[[[]]]]]))
    if isinstance(value, dict) and value and depth < 6:
        key = draw(st.sampled_from(sorted(value)))
        action = draw(st.sampled_from(["replace", "drop", "descend", "descend"]))
        if action == "drop":
            return {k: v for k, v in value.items() if k != key}
        new = draw(junk) if action == "replace" else mutate(value[key], draw, depth + 1)
        return {**value, key: new}
    if isinstance(value, list) and value and depth < 6:
        i = draw(st.integers(0, len(value) - 1))
        action = draw(st.sampled_from(["replace", "drop", "duplicate", "descend", "descend"]))
        if action == "drop":
            return value[:i] + value[i + 1:]
        if action == "duplicate":
            return value[:i + 1] + value[i:]
        new = draw(junk) if action == "replace" else mutate(value[i], draw, depth + 1)
        return [*value[:i], new, *value[i + 1:]]
    return draw(junk)


def base_trace() -> dict[str, Any]:
    from tests.commands.test_robustness import small_trace

    doc = small_trace(distributedInfo={"rank": 0, "world_size": 1}, deviceProperties=[{"name": "NVIDIA H100"}])
    doc["traceEvents"].append({"ph": "X", "cat": "user_annotation", "name": "step[DECODE bs=4]", "pid": 1, "tid": 1,
                               "ts": 0, "dur": 100, "args": {"External id": 9}})
    return doc


@FUZZ
@given(data=st.data())
def test_any_trace_reads_or_fails_in_one_line(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    doc = base_trace()
    for _ in range(data.draw(st.integers(1, 4))):
        doc = mutate(doc, data.draw)
    folder = tmp_path_factory.mktemp("trace")
    text = json.dumps(doc, allow_nan=True) if not isinstance(doc, str) else doc
    if data.draw(st.booleans()):  # and sometimes cut short or garbled at the byte level
        cut = data.draw(st.integers(0, len(text)))
        text = text[:cut] + data.draw(st.text(max_size=3))
    (folder / "t.json").write_text(text)
    argv = ["analyze", str(folder / "t.json"), "--out", str(folder / "run"), "--json", "-q"]
    code, stderr = run_main(argv)
    check_contract(code, stderr, argv)
    if code == 0:
        assert (folder / "run" / "manifest.json").is_file()


@FUZZ
@given(kind=st.sampled_from(["file", "folder", "fifo", "symlink", "missing", "deep", "in-run", "under-file"]),
       force=st.booleans(), flag=st.sampled_from(["--summary", "--markdown", "--table", "--chrome"]))
def test_outputs_replace_only_regular_files_outside_runs(kind: str, force: bool, flag: str, sandbox: Path,
                                                         tmp_path_factory: pytest.TempPathFactory) -> None:
    out = tmp_path_factory.mktemp("paths")
    keep = out / "keep.txt"
    keep.write_text("keep")
    target = {"file": out / "f.json", "folder": out / "d", "fifo": out / "p", "symlink": out / "l",
              "missing": out / "m.json", "deep": out / "a" / "b" / "c.json", "in-run": sandbox / "bf16" / "x.json",
              "under-file": keep / "x.json"}[kind]
    if kind == "file":
        target.write_text("old")
    elif kind == "folder":
        target.mkdir()
    elif kind == "fifo":
        os.mkfifo(target)
    elif kind == "symlink":
        target.symlink_to(keep)
    suffix = {"--table": ".csv", "--chrome": ".json"}.get(flag, "")
    argv = ["export", str(sandbox / "bf16"), flag, str(target) + suffix if kind in ("missing", "deep") else
            str(target), *(["--force"] if force else [])]
    run_before = snapshot(sandbox / "bf16")
    code, stderr = run_main(argv)
    check_contract(code, stderr, argv)
    assert keep.read_text() == "keep"
    assert snapshot(sandbox / "bf16") == run_before
    if kind in ("folder", "fifo", "symlink", "in-run", "under-file"):
        assert code == 2
    if kind == "symlink":
        assert target.is_symlink()
    if kind == "file" and not force:
        assert code == 2 and target.read_text() == "old"


def test_the_command_fuzz_reached_success_and_failure() -> None:
    """Run after the command fuzz: a fuzz whose every case failed at the parser would prove little."""
    if OUTCOMES[True] + OUTCOMES[False] == 0:
        pytest.skip("the command fuzz did not run in this session")
    assert OUTCOMES[True] >= 5 and OUTCOMES[False] >= 5, OUTCOMES
