"""Where a model comes from (tracers/loading.py): the embedded fixture, a folder, the local Hugging Face
cache, or the hub; never a minute of retries when the hub cannot be reached."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kernelscope.errors import KernelscopeError
from kernelscope.fixtures_path import fixture_model_dir
from kernelscope.tracers.loading import resolve_model


def test_an_uncached_hub_id_with_no_hub_fails_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(KernelscopeError, match=r"not in the Hugging Face cache, and the hub \(hub\.invalid\) cannot"):
        resolve_model("some-org/some-model")


def test_a_cached_hub_id_is_used_without_the_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    repo = cache / "models--some-org--tiny"
    snapshot = repo / "snapshots" / "0123abc"
    shutil.copytree(fixture_model_dir(), snapshot)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    ref = resolve_model("some-org/tiny")
    assert ref.local and Path(ref.path) == snapshot
