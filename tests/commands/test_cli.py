"""User mistakes give one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from kernelscope import __version__
from tests.helpers import assert_one_line_error, ks


@pytest.mark.parametrize(
    "args, code, fragment",
    [
        (("profile", "--quant", "int5"), 2, "unknown mode 'int5'"),
        (("profile", "--quant", "int4+int8"), 2, "more than one weight mode"),
        (("profile", "--quant", "nf4", "--backend", "torchao"), 2, "mode nf4 has no backend 'torchao'"),
        (("profile", "--quant", "int4", "--dtype", "fp16"), 2, "runs in bf16, fp32, not fp16"),
        (("profile", "--quant", "w8a8", "--backend", "torch", "--device", "cuda"), 2, "does not run on cuda"),
        (("profile", "--quant", "int8", "--group-size", "64"), 2, "--group-size applies to"),
        (("profile", "--prompt-len", "9:3"), 2, "MIN <= MAX"),
        (("profile", "--gen-len", "0"), 2, "positive integer"),
        (("profile", "--bogus"), 2, "unrecognized arguments: --bogus"),
        (("summary",), 2, "the following arguments are required: run"),
        (("nonsense",), 2, "invalid choice"),
    ],
)
def test_usage_mistakes(args: tuple[str, ...], code: int, fragment: str) -> None:
    assert_one_line_error(ks(*args), code, fragment)


def test_missing_model_folder(tmp_path: Path) -> None:
    assert_one_line_error(ks("profile", str(tmp_path / "no-model")), 2, "does not exist")


def test_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hi")
    assert_one_line_error(ks("profile", str(tmp_path)), 2, "not a Hugging Face model folder")


def test_missing_run() -> None:
    assert_one_line_error(ks("summary", "/no/such/run"), 3, "no run at /no/such/run")


def test_version_and_modes() -> None:
    assert ks("--version").stdout.strip() == f"kernelscope {__version__}"
    rows = json.loads(ks("modes", "--json").stdout)
    assert {(r["mode"], r["backend"]) for r in rows} >= {("int4", "torchao"), ("nf4", "bitsandbytes"),
                                                          ("w8a8", "torch"), ("kv-int4", "quanto")}
    assert all(isinstance(r["here"], bool) and "why" in r for r in rows)


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    from kernelscope.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_has_help_that_shows_its_default() -> None:
    for name, sub in _subparsers().items():
        text = sub.format_help()
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest}: no help"
            if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
                helped = sub._get_formatter()._get_help_string(action) or ""
                assert "default" in helped, f"{name} {action.option_strings}: default {action.default!r} not shown"
        assert "--help" in text


def test_sweep_out_names_its_own_default_folder() -> None:
    help_text = " ".join(_subparsers()["sweep"].format_help().split())
    assert "runs/<time>-sweep" in help_text and "<model>-<quant>" not in help_text


def test_small_things_a_user_trips_on(tmp_path: Path) -> None:
    from tests.helpers import RUNS, copy_run

    assert_one_line_error(ks("profile", "--quant", "kv-int4", "--backend", "hqq"), 2, "--kv-backend hqq")
    assert_one_line_error(ks("export", str(RUNS / "bf16"), "--markdown", str(tmp_path / "x.md"), "--phase", "decode"),
                          2, "--summary and --markdown describe the whole run")
    past = ks("export", str(RUNS / "bf16"), "--table", str(tmp_path / "x.csv"), "--steps", "100:200")
    assert past.returncode == 0 and "0 rows" in past.stdout
    assert "warning: the cut kept no rows; this run has decode steps 0-2" in past.stderr
    md = ks("export", str(RUNS / "bf16"), "--markdown", str(tmp_path / "x.md"))
    text = (tmp_path / "x.md").read_text()
    assert md.returncode == 0 and text.endswith("\n") and "| other |" not in text  # 4 us of 35 ms: no row
    run = copy_run(tmp_path, "int4-torchao")
    again = ks("reclassify", str(run))
    assert again.returncode == 0 and "no verdict changed" in again.stdout


def test_tensorrt_llm_as_a_backend_says_what_to_do_instead() -> None:
    result = ks("profile", "--quant", "int4", "--backend", "tensorrt-llm")
    assert_one_line_error(result, 2, "TLLM_TORCH_PROFILE_TRACE")
    assert "kernelscope analyze" in result.stderr


def test_the_quality_budget_decides_the_windows() -> None:
    from kernelscope.commands.args import context_length, quality_windows

    assert quality_windows(256, 1024, None) == 8  # 128 scored per window
    assert quality_windows(160, 1000, None) == 13
    assert quality_windows(256, 1024, 3) == 3  # --quality-windows wins
    assert context_length("workload") == "workload"


def test_the_phase_panel_names_its_two_dequant_figures_apart() -> None:
    from rich.console import Console

    from kernelscope.report.aggregate import summarize_run
    from kernelscope.report.console import render_summary
    from kernelscope.runs.store import load_run
    from tests.helpers import RUNS

    console = Console(record=True, width=80)
    render_summary(summarize_run(load_run(RUNS / "nf4-bitsandbytes")), console)
    text = console.export_text()
    assert "dequant kernels 50.1% of it" in text and "site paths: native 0.0%  dq-compute 74.6%" in text
    assert "dequant share" not in text
