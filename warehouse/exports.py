"""What the exports have in common (a SEN2 export's modules, a Blade census's tables): files
read on their own, then loaded together or not at all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from warehouse.files import FileOutcome, LandedFile, Read
from warehouse.recorder import Recorder


@dataclass
class Parts:
    """The files of one export, each read: by part (module or table), the files that are
    no part or a second copy of one (already recorded), and why a part was rejected."""

    reads: dict[str, tuple[LandedFile, Read]] = field(default_factory=dict)
    outcomes: list[FileOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_parts(rec: Recorder, batch: list[LandedFile], ready: list | None,
               part_of: Callable[[LandedFile], tuple[str | None, FileOutcome | None]],
               read: Callable[[LandedFile], Read | str | None], what: str) -> Parts:
    """Each file of `batch` as its part. `part_of(f)`: its part, or None and the outcome
    recorded for a file that is none; `read(f)`: the part read, its rejection, or None
    (nothing to read); `ready`: what `read` gave for each file, when they were read in
    parallel. `what` names a part in messages (`module`, `table`)."""
    parts = Parts()
    for i, f in enumerate(batch):
        part, refused = part_of(f)
        if part is None:
            if refused is not None:
                parts.outcomes.append(refused)
        elif part in parts.reads:
            parts.outcomes.append(rec.reject(
                f, f"is a second {part} {what} for the export of {parts.reads[part][0].name}"))
        else:
            r = ready[i] if ready is not None else read(f)
            if isinstance(r, str):
                parts.outcomes.append(rec.reject(f, r))
                parts.problems.append(f"its {part} {what} was rejected")
            elif r is not None:
                parts.reads[part] = (f, r)
    return parts
