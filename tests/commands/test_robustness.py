"""The promise, checked at its causes: one clear line and a non-zero exit for any bad input or fault,
never a traceback; outputs only where asked and only over regular files; nothing of a run lost."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from kernelscope.runs.store import load_run
from tests.helpers import RUNS, assert_one_line_error, copy_run, ks

# ------------------------------------------------------------------------------- output-path policy


def special_targets(tmp: Path) -> dict[str, Path]:
    folder = tmp / "a-folder"
    folder.mkdir()
    fifo = tmp / "a-fifo"
    os.mkfifo(fifo)
    real = tmp / "real.txt"
    real.write_text("keep me")
    link = tmp / "a-link"
    link.symlink_to(real)
    return {"folder": folder, "fifo": fifo, "symlink": link, "device": Path("/dev/null")}


@pytest.mark.parametrize("kind", ["folder", "fifo", "symlink", "device"])
def test_force_replaces_only_regular_files(tmp_path: Path, kind: str) -> None:
    target = special_targets(tmp_path)[kind]
    before = os.lstat(target)
    result = ks("export", str(RUNS / "bf16"), "--summary", str(target), "--force")
    assert_one_line_error(result, 2, "replaces only regular files")
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert (tmp_path / "real.txt").read_text() == "keep me"


def test_no_output_inside_a_run_folder(tmp_path: Path) -> None:
    run = copy_run(tmp_path, "bf16")
    manifest = (run / "manifest.json").read_bytes()
    for target in (run / "manifest.json", run / "trace.json.gz", run / "sub" / "x.json"):
        assert_one_line_error(ks("export", str(run), "--summary", str(target), "--force"), 2, "inside the run folder")
        assert_one_line_error(ks("compare", str(RUNS / "bf16"), str(RUNS / "int4-torchao"), "--format", "md",
                                 "-o", str(target), "--force"), 2, "inside the run folder")
    assert (run / "manifest.json").read_bytes() == manifest
    load_run(run)


def test_missing_parents_are_created_and_an_existing_file_needs_force(tmp_path: Path) -> None:
    target = tmp_path / "new" / "deeper" / "summary.json"
    assert ks("export", str(RUNS / "bf16"), "--summary", str(target)).returncode == 0
    assert json.loads(target.read_text())["config"]["quant"] == "bf16"
    assert_one_line_error(ks("export", str(RUNS / "bf16"), "--summary", str(target)), 2, "pass --force")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(ks("export", str(RUNS / "bf16"), "--summary", str(blocker / "s.json")), 2,
                          "exists and is not a folder")


def test_run_folders_are_new_or_empty_and_checked_before_any_work(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert_one_line_error(ks("analyze", str(RUNS / "bf16" / "trace.json.gz"), "--out", str(taken)), 2,
                          "exists and is not a folder")
    result = ks("profile", "--quant", "bf16", "--out", str(taken))
    assert_one_line_error(result, 2, "exists and is not a folder")
    assert "loading" not in result.stderr  # refused before the model loaded
    folder = tmp_path / "shots"
    folder.mkdir()
    assert_one_line_error(ks("tui", str(RUNS / "bf16"), "--screenshot", str(folder)), 2, "replaces only regular files")


@pytest.mark.parametrize("target", ["fifo", "device", "folder"])
def test_a_trace_that_is_not_a_file_is_one_line(tmp_path: Path, target: str) -> None:
    path = special_targets(tmp_path)[target]
    if target == "folder":  # an empty folder: no traces in it
        assert_one_line_error(ks("analyze", str(path), "--out", str(tmp_path / "run")), 3, "no .json")
    else:
        assert_one_line_error(ks("analyze", str(path), "--out", str(tmp_path / "run")), 3, "not a trace file")


# ----------------------------------------------------------------------------------- gates and flags


@pytest.mark.parametrize("gate, fragment", [("kld_mean<1.2.3", "is not a number"), ("", "names no condition"),
                                            (",", "names no condition"), ("kld_mean<nan", "finite"),
                                            ("kld_mean<", "expected METRIC OP NUMBER")])
def test_a_bad_gate_is_one_line_and_an_empty_one_never_passes(gate: str, fragment: str) -> None:
    assert_one_line_error(ks("compare", str(RUNS / "bf16"), str(RUNS / "int4-torchao"), "--gate", gate), 2, fragment)
    assert_one_line_error(ks("sweep", "--quant", "bf16", "--gate", gate), 2, fragment)


@pytest.mark.parametrize("args, fragment", [
    (("profile", "--temperature", "nan"), "finite"), (("profile", "--temperature", "-1"), ">= 0"),
    (("profile", "--top-p", "5"), "probability"), (("profile", "--seed", "-1"), "seed"),
    (("profile", "--quant", "int4", "--group-size", "7"), "power of two"),
    (("profile", "--outlier-threshold", "inf"), "finite"), (("sweep", "--timeout", "-1"), "> 0"),
    (("compare", "RUN", "--context", "-5"), "positive integer"), (("compare", "RUN", "--context", "0"), "positive"),
    (("analyze", "T", "--decode-max-tokens", "0"), "positive"), (("tui", "RUN", "--size", "100000x100000"), "to 1000"),
    (("profile", "--prompt-len", "1000", "--gen-len", "100"), "more than the model's 1024 positions"),
    (("profile", "--quality", "--quality-context", "4096"), "more than the model's 1024 positions"),
])
def test_every_numeric_flag_is_checked(args: tuple[str, ...], fragment: str, tmp_path: Path) -> None:
    result = ks(*args, "--out", str(tmp_path / "run")) if args[0] in ("profile",) else ks(*args)
    assert_one_line_error(result, 2, fragment)
    assert "loading" not in result.stderr


# ------------------------------------------------------------------------------------------- traces


def small_trace(**extra: object) -> dict[str, object]:
    return {"schemaVersion": 1, **extra, "traceEvents": [
        {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": 10, "dur": 5,
         "args": {"External id": 1, "Input type": ["c10::BFloat16", "c10::BFloat16"], "Input Dims": [[4, 8], [8, 8]]}},
        {"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel", "pid": 1, "tid": 1, "ts": 11, "dur": 1,
         "args": {"correlation": 7, "External id": 1}},
        {"ph": "X", "cat": "kernel", "name": "nvjet_tst_128x256", "pid": 0, "tid": 7, "ts": 20, "dur": 4,
         "args": {"correlation": 7, "External id": 1, "stream": 7, "device": 0}}]}


def test_odd_traces_read_or_fail_in_one_line(tmp_path: Path) -> None:
    cases = {
        "rank": json.dumps(small_trace(distributedInfo={"rank": 2**62, "world_size": 2})),
        "nested": json.dumps(small_trace()).replace('[[4, 8], [8, 8]]', "[" * 3000 + "]" * 3000),
        "engine": json.dumps(small_trace(kernelscope={"config": {"engine": 5}, "sites": {}})),
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        result = ks("analyze", str(path), "--out", str(tmp_path / f"run-{name}"), "--json", "-q")
        assert "Traceback" not in result.stderr, name
        assert result.returncode in (0, 3), (name, result.stderr)
    negative = small_trace()
    negative["traceEvents"][2]["dur"] = -40  # type: ignore[index]
    (tmp_path / "neg.json").write_text(json.dumps(negative))
    result = ks("analyze", str(tmp_path / "neg.json"), "--out", str(tmp_path / "run-neg"), "--json", "-q")
    assert all(p["total_us"] >= 0 for p in json.loads(result.stdout)["phases"].values())


def test_untrusted_names_reach_the_terminal_escaped(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_bytes(b"evil\x1b[2J\x1b]0;pwned\x07kernel\n")
    result = ks("explain", "--from", str(names))
    assert "\x1b" not in result.stdout and "\\x1b[2J" in result.stdout


# ------------------------------------------------------------------------------------ model folders


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    from kernelscope.fixtures_path import fixture_model_dir

    folder = tmp_path / "model"
    shutil.copytree(fixture_model_dir(), folder)
    return folder


def test_remote_code_never_runs_unasked(model_folder: Path, tmp_path: Path) -> None:
    config = json.loads((model_folder / "config.json").read_text())
    config.update(model_type="evil", auto_map={"AutoConfig": "conf.EvilConfig",
                                               "AutoModelForCausalLM": "modeling.EvilForCausalLM"})
    (model_folder / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "PWNED"
    for module in ("conf.py", "modeling.py"):
        (model_folder / module).write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    result = ks("profile", str(model_folder), "--quant", "bf16", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, 2, "--trust-remote-code")
    assert not marker.exists()


def test_broken_model_files_are_one_line(model_folder: Path, tmp_path: Path) -> None:
    weights = next(model_folder.glob("*.safetensors"))
    weights.write_bytes(b"\x00" * 64)
    assert_one_line_error(ks("profile", str(model_folder), "--quant", "bf16", "--out", str(tmp_path / "r1")), 4,
                          "loading")
    bad_eval = tmp_path / "eval.txt"
    bad_eval.write_bytes(b"caf\xe9 \xff\xfe")
    assert_one_line_error(ks("profile", "--quant", "bf16", "--eval", str(bad_eval), "--out", str(tmp_path / "r2")), 2,
                          "not UTF-8")


@pytest.mark.slow
@pytest.mark.parametrize("field, value", [("max_position_embeddings", "many"), ("max_position_embeddings", -1),
                                          ("hidden_size", 7), ("num_hidden_layers", 0), ("vocab_size", 3),
                                          ("torch_dtype", "float512"), ("architectures", ["NoSuchForCausalLM"])])
def test_damaged_model_configs_keep_the_contract(model_folder: Path, tmp_path: Path, field: str, value: object) -> None:
    config = json.loads((model_folder / "config.json").read_text())
    config[field] = value
    (model_folder / "config.json").write_text(json.dumps(config))
    run = tmp_path / "run"
    result = ks("profile", str(model_folder), "--quant", "bf16", "--prompt-len", "16", "--gen-len", "2",
                "--requests", "1", "--warmup", "0", "--profile-steps", "1", "--out", str(run))
    assert "Traceback" not in result.stderr, result.stderr
    if result.returncode:
        assert_one_line_error(result, result.returncode, "")
        if run.exists() and (run / "manifest.json").exists():  # a run that started says why it stopped
            manifest = json.loads((run / "manifest.json").read_text())
            assert manifest["status"] == "complete" or manifest.get("error"), manifest


def test_a_full_disk_while_exporting_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from kernelscope.cli import main
    from kernelscope.report import export

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(export, "atomic_write_bytes", full)
    code = main(["export", str(RUNS / "bf16"), "--summary", str(tmp_path / "s.json")])
    err = capsys.readouterr().err
    assert code == 4 and err.startswith("kernelscope: error: No space left on device") and "Traceback" not in err
    assert not (tmp_path / "s.json").exists()


def test_a_missing_tokenizer_says_what_is_missing(model_folder: Path, tmp_path: Path) -> None:
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model"):
        (model_folder / name).unlink(missing_ok=True)
    result = ks("profile", str(model_folder), "--quant", "bf16", "--out", str(tmp_path / "run"))
    assert_one_line_error(result, 2, "cannot load the tokenizer")
    line = next(x for x in result.stderr.splitlines() if x.startswith("kernelscope: error:"))
    assert not line.rstrip().endswith(":")  # the reason itself, not a cut-off lead-in
