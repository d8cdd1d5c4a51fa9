"""Python threads the custom module left running while it was timed.

A thread can do the module's work while the harness is between timed calls, or watch the process for input
values to come and compute on them before they are timed, and no clock around a call sees it. The worker notes
which threads exist before any user code is imported. After each round it names any other thread still alive,
with where it is. A thread that runs code from the user's folder (or code with no file: exec'd) is an error.
One that runs only installed code (a compile pool waiting for work) is named as a warning.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from types import FrameType

import attrs


@attrs.define
class ForeignThread:
    name: str
    where: str
    """file:line of its innermost frame."""
    runs_user_code: bool


def alive() -> frozenset[int]:
    return frozenset(sys._current_frames())


def started_since(baseline: frozenset[int], user_folder: str) -> list[ForeignThread]:
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    found: list[ForeignThread] = []
    for ident, frame in sys._current_frames().items():
        if ident in baseline or ident == threading.get_ident():
            continue
        files = []
        walker: FrameType | None = frame
        while walker is not None:
            files.append(walker.f_code.co_filename)
            walker = walker.f_back
        user = any(_is_user_code(file, user_folder) for file in files)
        where = f"{frame.f_code.co_filename}:{frame.f_lineno}"
        found.append(ForeignThread(names.get(ident, f"thread {ident}"), where, user))
    return found


def _is_user_code(file: str, user_folder: str) -> bool:
    path = Path(file)
    if not path.is_absolute() or not path.is_file():
        return True  # "<string>", exec'd code: nothing installed looks like that
    return bool(user_folder) and path.resolve().is_relative_to(Path(user_folder).resolve())


def flag_text(found: list[ForeignThread]) -> str:
    shown = "; ".join(f"{thread.name} at {thread.where}" for thread in found[:3])
    more = f" and {len(found) - 3} more" if len(found) > 3 else ""
    return (
        f"a thread started by the custom module was alive while it was timed ({shown}{more}): work it does runs "
        "outside every timed call; finish (join) threads before forward returns"
    )
