"""Planning a sweep: configurations parsed and checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from kernelscope.errors import KernelscopeError
from kernelscope.runs.sweep import last_error_line, parse_configs


def test_configs_and_their_profile_arguments() -> None:
    configs = parse_configs("bf16, int8,int4@hqq,kv-int4@quanto,int4+kv-int4")
    assert [c.label for c in configs] == ["bf16", "int8", "int4-hqq", "kv-int4-quanto", "int4_kv-int4"]
    assert configs[2].profile_args() == ["--quant", "int4", "--backend", "hqq"]
    assert configs[3].profile_args() == ["--quant", "kv-int4", "--kv-backend", "quanto"]
    assert configs[4].profile_args() == ["--quant", "int4+kv-int4"]


@pytest.mark.parametrize("text, fragment", [
    ("int4@bogus", "mode int4 has no backend 'bogus'"),
    ("int5", "unknown mode 'int5'"),
    ("bf16@torchao", "'@torchao' needs a weight or KV-cache mode"),
    ("int4,int4", "names a configuration twice"),
    (" , ", "--quant is empty"),
])
def test_bad_configs_fail_before_anything_runs(text: str, fragment: str) -> None:
    with pytest.raises(KernelscopeError, match=fragment):
        parse_configs(text)


def test_the_childs_error_line_is_kept() -> None:
    log = "cmd\nsome warning\nkernelscope: error: out of memory while loading\n"
    assert last_error_line(log) == "out of memory while loading"
    assert last_error_line("Traceback...\nRuntimeError: boom\n") == "RuntimeError: boom"
    assert last_error_line("") == "no output"


def test_repeats_are_interleaved_round_after_round() -> None:
    from kernelscope.runs.sweep import interleaved

    configs = parse_configs("bf16,int4@hqq")
    assert interleaved(configs, 1) == configs
    assert [c.label for c in interleaved(configs, 3)] == ["bf16-r1", "int4-hqq-r1", "bf16-r2", "int4-hqq-r2",
                                                         "bf16-r3", "int4-hqq-r3"]


@pytest.mark.slow
def test_the_fork_server_runs_a_command_and_kills_at_the_timeout(tmp_path: Path) -> None:
    import sys

    from kernelscope.runs.sweep import Zygote

    if not sys.platform.startswith("linux"):
        pytest.skip("the fork server is Linux only")
    zygote = Zygote.start()
    assert zygote is not None
    try:
        log = tmp_path / "version.log"
        assert zygote.run(["--version"], log, 60.0) == 0
        assert "kernelscope" in log.read_text()
        slow = tmp_path / "slow.log"  # a whole profile cannot finish in 0.5 s: killed, and the server goes on
        assert zygote.run(["profile", "--quant", "bf16", "--out", str(tmp_path / "run")], slow, 0.5) is None
        assert zygote.run(["modes", "--json"], tmp_path / "modes.log", 60.0) == 0
    finally:
        zygote.close()
    assert zygote.process.poll() is not None
