"""The workload: prompts cut from the eval text with a seeded prompt-length distribution."""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from kernelscope.errors import KernelscopeError
from kernelscope.runs.documents import PromptLen, Sampling, WorkloadInfo


@dataclass(frozen=True)
class Workload:
    prompt_len: tuple[int, int]  # inclusive range; (128, 128) for a fixed length
    gen_len: int
    batch: int
    requests: int
    warmup: int
    seed: int
    temperature: float = 0.0  # 0 = greedy
    top_p: float = 1.0

    def info(self) -> WorkloadInfo:
        """The workload as the run's config records it (a fixed variable of every comparison)."""
        lo, hi = self.prompt_len
        return WorkloadInfo(
            prompt_len=PromptLen(min=lo, max=hi, distribution="fixed" if lo == hi else "uniform integer, seeded"),
            gen_len=self.gen_len, batch=self.batch, requests=self.requests, warmup=self.warmup, seed=self.seed,
            sampling=self.sampling(), stop="fixed output length (EOS ignored)")

    def sampling(self) -> Sampling:
        if self.temperature <= 0:
            return Sampling(strategy="greedy")
        return Sampling(strategy="sample", temperature=self.temperature, top_p=self.top_p, seed=self.seed)


def parse_prompt_len(text: str) -> tuple[int, int]:
    try:
        if ":" in text:
            lo_s, hi_s = text.split(":", 1)
            lo, hi = int(lo_s), int(hi_s)
        else:
            lo = hi = int(text)
    except ValueError:
        raise KernelscopeError(f"--prompt-len {text!r}: expected N or MIN:MAX") from None
    if lo < 1 or hi < lo:
        raise KernelscopeError(f"--prompt-len {text!r}: need 1 <= MIN <= MAX")
    return lo, hi


def make_prompts(token_ids: list[int], workload: Workload, count: int) -> list[torch.Tensor]:
    """`count` batches of prompts, each [batch, L] with L drawn from the distribution.

    Each row is a window of the eval token stream at a seeded offset, so the same seed gives the
    same prompts for every configuration. Rows of one batch share L (no padding needed)."""
    lo, hi = workload.prompt_len
    if len(token_ids) < hi + 1:
        raise KernelscopeError(f"the eval text has {len(token_ids)} tokens, fewer than --prompt-len max {hi}")
    rng = random.Random(workload.seed)
    prompts = []
    for _ in range(count):
        length = rng.randint(lo, hi)
        rows = []
        for _ in range(workload.batch):
            start = rng.randrange(0, len(token_ids) - length)
            rows.append(token_ids[start : start + length])
        prompts.append(torch.tensor(rows, dtype=torch.long))
    return prompts
