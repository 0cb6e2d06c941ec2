"""What a capture checks before the model loads, and the one policy for a capture that fails.

Checks: the workload fits the model's positions (its config says them), a weight mode quantized something.
Failures: an interruption (Ctrl-C, SIGTERM, SIGHUP), running out of memory or disk, or a library's runtime
error is recorded in the run's manifest as its `error`, with the stage it stopped in, and becomes one
line that says where the incomplete run is.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from kernelscope import signals
from kernelscope.errors import EXIT_RUNTIME, KernelscopeError
from kernelscope.progress import Progress
from kernelscope.recipes import Recipe
from kernelscope.runs.documents import SiteEntry
from kernelscope.runs.store import RunWriter
from kernelscope.vocabulary import SiteKind

if TYPE_CHECKING:
    from kernelscope.tracers.capture import CaptureRequest


def check_model_limits(max_positions: int | None, req: CaptureRequest) -> None:
    """Sequences the model cannot take are refused before it loads (the config says its limit)."""
    if max_positions is None:
        return
    longest = req.workload.prompt_len[1] + req.workload.gen_len
    if longest > max_positions:
        raise KernelscopeError(f"--prompt-len {req.workload.prompt_len[1]} + --gen-len {req.workload.gen_len} = "
                               f"{longest} tokens, more than the model's {max_positions} positions")
    if req.quality is not None and req.quality.context > max_positions:
        raise KernelscopeError(f"--quality-context {req.quality.context} is more than the model's {max_positions} "
                               "positions")


def warn_if_nothing_quantized(sites: dict[str, SiteEntry], recipe: Recipe, progress: Progress) -> None:
    """A weight mode that quantized none of the layers it was asked to (a group size that divides no layer's
    input, a library that declined every layer) is said at once; the run goes on and reports those sites as
    fallback, which is what happened."""
    asked = [s for s in sites.values() if s.kind is SiteKind.LINEAR and s.requested]
    if recipe.weight is None or not asked or any(s.quantized for s in asked):
        return
    group = f" with group size {recipe.group_size}" if recipe.group_size else ""
    progress.warn(f"{recipe.weight.mode} ({recipe.weight.backend}){group} quantized none of the {len(asked)} Linear "
                  f"layers it was asked to ({asked[0].note}): every site will read as a fallback")


@contextlib.contextmanager
def failures_recorded(writer: RunWriter, req: CaptureRequest) -> Iterator[None]:
    """The one failure policy of a capture: an interruption (Ctrl-C, SIGTERM, SIGHUP), running out of
    memory or disk, or a library's runtime error is recorded in the manifest as the run's `error`, with the
    stage it stopped in, and becomes one line that says where the incomplete run is."""
    import torch

    def where() -> str:  # read when the failure happens
        return req.progress.current or "the capture"

    try:
        yield
    except KeyboardInterrupt as exc:
        _fail(writer, f"interrupted by {signals.name_of(exc)} during {where()}")
        raise KernelscopeError(f"interrupted during {where()}; the incomplete run is at {req.out}",
                               signals.exit_code(exc)) from None
    except (torch.OutOfMemoryError, MemoryError) as exc:
        _fail(writer, f"out of memory during {where()}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise KernelscopeError(f"out of memory during {where()}; the incomplete run is at {req.out}",
                               EXIT_RUNTIME) from None
    except OSError as exc:
        _fail(writer, f"{exc.strerror or exc} during {where()}")
        raise KernelscopeError(f"{exc.strerror or exc} during {where()} (writing {exc.filename or 'the run'}); "
                               f"the incomplete run is at {req.out}", EXIT_RUNTIME) from None
    except RuntimeError as exc:  # CPU allocator failures, NaN probabilities, a library giving up
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        _fail(writer, f"{first} during {where()}")
        raise KernelscopeError(f"{first} during {where()}; the incomplete run is at {req.out}",
                               EXIT_RUNTIME) from None


def _fail(writer: RunWriter, error: str) -> None:
    """Mark the run failed; where even that cannot be written (a full disk), the run stays incomplete."""
    with contextlib.suppress(OSError):
        writer.fail(error)
