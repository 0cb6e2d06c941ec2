"""The embedded model: committed artifacts intact, loadable offline, really trained, rebuildable."""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kernelscope.fixtures_path import fixture_eval_text, fixture_model_dir, fixtures_dir

MODEL = fixture_model_dir()


def test_committed_artifacts_match_their_recorded_hashes() -> None:
    record = json.loads((MODEL / "training.json").read_text())
    for name, digest in record["sha256"].items():
        assert hashlib.sha256((MODEL / name).read_bytes()).hexdigest() == digest, name
    total = sum(p.stat().st_size for p in fixtures_dir().rglob("*") if p.is_file())
    assert total < 25 * 2**20


@pytest.mark.slow
def test_loads_offline_and_predicts_held_out_text_far_better_than_chance(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = AutoTokenizer.from_pretrained(MODEL)
    model = AutoModelForCausalLM.from_pretrained(MODEL, dtype=torch.float32).eval()
    ids = tok(fixture_eval_text().read_text()[:4000], return_tensors="pt")["input_ids"][:, :512]
    with torch.inference_mode():
        loss = model(input_ids=ids, labels=ids).loss
    ppl = math.exp(float(loss))
    assert 20 < ppl < 400  # trained: chance over a 4096-token vocabulary would be ~4096
    record = json.loads((MODEL / "training.json").read_text())
    assert record["eval_perplexity_bf16"] < 250
    assert record["parameters"] == sum(p.numel() for p in model.parameters())


@pytest.mark.slow
def test_the_build_script_is_deterministic(tmp_path: Path) -> None:
    script = fixtures_dir() / "make_fixture_model.py"
    digests = []
    for name in ("a", "b"):
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        subprocess.run([sys.executable, str(script), "--steps", "2", "--batch", "2", "--eval-windows", "2",
                        "--out", str(tmp_path / name)], check=True, capture_output=True, env=env, timeout=600)
        digests.append(json.loads((tmp_path / name / "tiny-llama" / "training.json").read_text())["sha256"])
    assert digests[0] == digests[1]
    assert digests[0]["tokenizer.json"] == json.loads((MODEL / "training.json").read_text())["sha256"]["tokenizer.json"]
