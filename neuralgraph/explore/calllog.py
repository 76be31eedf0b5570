"""Every proposer call on disk: ``llm/call_NNNN.json`` in the sweep directory, one per call.

A file holds what was asked (the user prompt; the system prompt is the instruction document,
saved once as ``llm/system_<hash>.md`` and named by the call), the images sent with their labels,
the raw reply or the error, the tokens and latency, and the verdict on each slot (accepted as
which node, or rejected and why), so a first answer that was rejected and re-asked is on record.
Keys never appear: the prompt holds none, and errors are the proposers' key-free messages.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any, Optional

from neuralgraph.io import write_json, write_text

from .plots import Plot


class CallLog:
    """Writes the ``llm/`` folder of one sweep."""

    def __init__(self, sweep_dir: Path) -> None:
        self.folder = Path(sweep_dir) / "llm"

    def system_file(self, instructions: str) -> str:
        """The saved copy of a system prompt ("" when there is none)."""
        if not instructions:
            return ""
        name = f"system_{hashlib.sha256(instructions.encode()).hexdigest()[:12]}.md"
        if not (self.folder / name).exists():
            write_text(self.folder / name, instructions)
        return name

    def write(self, number: int, *, proposer: str, kind: str, iteration: int, attempt: int,
              prompt: str, instructions: str = "", images: Optional[list[Plot]] = None,
              raw: str = "", error: str = "", usage: tuple[int, int, float] = (0, 0, 0.0),
              verdicts: Optional[dict[int, str]] = None) -> Path:
        """Save call ``number`` (the tree's proposer call count); returns the file."""
        record: dict[str, Any] = {
            "call": number, "kind": kind, "proposer": proposer, "iteration": iteration,
            "attempt": attempt, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "system": self.system_file(instructions),
            "images": [{"file": p.path, "label": p.label} for p in images or []],
            "prompt": prompt, "reply": raw, "error": error,
            "input_tokens": usage[0], "output_tokens": usage[1], "latency_s": round(usage[2], 3),
            "slots": {str(k): v for k, v in sorted((verdicts or {}).items())},
        }
        path = self.folder / f"call_{number:04d}.json"
        write_json(path, record, indent=1)
        return path
