from __future__ import annotations

import pytest

from kernelscope.errors import KernelscopeError
from kernelscope.runs.documents import Sampling
from kernelscope.tracers.workload import Workload, make_prompts, parse_prompt_len


def test_prompt_length_spec() -> None:
    assert parse_prompt_len("128") == (128, 128)
    assert parse_prompt_len("64:256") == (64, 256)
    for bad in ("x", "0", "5:2", "1:y"):
        with pytest.raises(KernelscopeError):
            parse_prompt_len(bad)


def test_prompts_are_seeded_windows_of_the_eval_stream() -> None:
    stream = list(range(10_000))
    wl = Workload(prompt_len=(16, 64), gen_len=4, batch=3, requests=5, warmup=1, seed=7)
    first = make_prompts(stream, wl, 6)
    again = make_prompts(stream, wl, 6)
    assert [p.tolist() for p in first] == [p.tolist() for p in again]
    for p in first:
        assert p.shape[0] == 3 and 16 <= p.shape[1] <= 64
        for row in p.tolist():  # contiguous windows of the stream
            assert row == list(range(row[0], row[0] + len(row)))
    other = make_prompts(stream, Workload((16, 64), 4, 3, 5, 1, seed=8), 6)
    assert [p.tolist() for p in other] != [p.tolist() for p in first]


def test_eval_text_shorter_than_the_prompt_is_an_error() -> None:
    with pytest.raises(KernelscopeError, match="fewer than"):
        make_prompts(list(range(10)), Workload((64, 64), 4, 1, 1, 0, 0), 1)


def test_workload_json_says_how_lengths_are_drawn() -> None:
    wl = Workload((64, 256), 32, 1, 8, 2, 0, temperature=0.7, top_p=0.9)
    doc = wl.info()
    assert doc.prompt_len is not None and doc.prompt_len.distribution.startswith("uniform")
    assert doc.sampling == Sampling(strategy="sample", temperature=0.7, top_p=0.9, seed=0)
