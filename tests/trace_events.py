"""Hand-built torch.profiler Chrome trace events, for unit tests of loading, linking and rules."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PID = 100
TID = 100


@dataclass
class TraceBuilder:
    events: list[dict[str, Any]] = field(default_factory=list)
    _ext: int = 1000
    _corr: int = 5000

    def op(self, name: str, ts: float, dur: float, types: list[str] | None = None,
           dims: list[Any] | None = None, concrete: list[str] | None = None, tid: int = TID) -> int:
        """A cpu_op; returns its External id."""
        self._ext += 1
        args: dict[str, Any] = {"External id": self._ext, "Record function id": 0}
        if types is not None:
            args["Input type"] = types
            args["Input Dims"] = dims if dims is not None else [[] for _ in types]
        if concrete is not None:
            args["Concrete Inputs"] = concrete
        self.events.append({"ph": "X", "cat": "cpu_op", "name": name, "pid": PID, "tid": tid, "ts": ts,
                            "dur": dur, "args": args})
        return self._ext

    def range(self, name: str, ts: float, dur: float, tid: int = TID) -> None:
        self._ext += 1
        self.events.append({"ph": "X", "cat": "user_annotation", "name": name, "pid": PID, "tid": tid, "ts": ts,
                            "dur": dur, "args": {"External id": self._ext}})

    def launch(self, ts: float, ext: int | None, name: str = "cudaLaunchKernel", dur: float = 2.0,
               tid: int = TID) -> int:
        """A runtime launch; returns its correlation id."""
        self._corr += 1
        args: dict[str, Any] = {"correlation": self._corr, "cbid": 211}
        if ext is not None:
            args["External id"] = ext
        self.events.append({"ph": "X", "cat": "cuda_runtime", "name": name, "pid": PID, "tid": tid, "ts": ts,
                            "dur": dur, "args": args})
        return self._corr

    def kernel(self, name: str, ts: float, dur: float, corr: int, ext: int | None = None, stream: int = 7) -> None:
        args: dict[str, Any] = {"correlation": corr, "device": 0, "stream": stream}
        if ext is not None:
            args["External id"] = ext
        self.events.append({"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": stream, "ts": ts,
                            "dur": dur, "args": args})

    def python(self, name: str, ts: float, dur: float) -> None:
        self.events.append({"ph": "X", "cat": "python_function", "name": name, "pid": PID, "tid": TID, "ts": ts,
                            "dur": dur, "args": {"Python id": 1}})

    def doc(self, **extra: Any) -> dict[str, Any]:
        return {"schemaVersion": 1, "traceEvents": self.events, **extra}

    def dumps(self, **extra: Any) -> bytes:
        return json.dumps(self.doc(**extra)).encode()

    def write(self, path: Path, **extra: Any) -> Path:
        data = self.dumps(**extra)
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(data))
        else:
            path.write_bytes(data)
        return path
