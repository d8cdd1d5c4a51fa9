"""Turning exceptions raised by user code into Messages that name the file, line and fix."""

from __future__ import annotations

import traceback
from types import TracebackType

from kernel_eval.kinds import MessageKind
from kernel_eval.result import Location, Message, Phase, Severity
from kernel_eval.sandbox import confine


class EvalError(Exception):
    """An evaluation cannot go on. It carries the Message to show the user."""

    def __init__(self, message: Message, *more: Message) -> None:
        super().__init__(message.message)
        self.messages = [message, *more]


def fail(
    phase: Phase,
    kind: MessageKind,
    text: str,
    location: Location | None = None,
    hint: str = "",
    detail: str = "",
) -> EvalError:
    return EvalError(Message(Severity.ERROR, phase, kind, text, location, hint, detail))


def deepest_user_location(tb: TracebackType | None, user_files: tuple[str, ...]) -> Location | None:
    """The innermost traceback frame that lies in one of the user's files."""
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        if frame.filename in user_files:
            return Location(
                frame.filename, frame.lineno or 0, (frame.colno or 0) + 1 if frame.colno is not None else 0
            )
    return None


def user_traceback(exc: BaseException, user_files: tuple[str, ...]) -> str:
    """The traceback from the first frame in a user file on (our own frames are noise to the user)."""
    frames = traceback.extract_tb(exc.__traceback__)
    first = next((i for i, f in enumerate(frames) if f.filename in user_files), len(frames))
    lines = traceback.format_list(frames[first:]) + traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()


def from_exception(
    exc: BaseException, phase: Phase, kind: MessageKind, user_files: tuple[str, ...], hint: str = ""
) -> EvalError:
    text = f"{type(exc).__name__}: {exc}".strip()
    denied = confine.denial(exc)
    if denied:
        kind, text = MessageKind.SANDBOX_DENIED, f"{denied} ({text})"
        hint = confine.denial_hint()
    location = deepest_user_location(exc.__traceback__, user_files)
    return fail(phase, kind, text, location, hint, user_traceback(exc, user_files))


def classify(exc: BaseException, default_kind: MessageKind) -> tuple[MessageKind, str]:
    """A stable kind and a fix for the common ways user code fails at run time."""
    text = str(exc)
    if isinstance(exc, SystemExit):
        return (
            MessageKind.SYSTEM_EXIT,
            f"the code called sys.exit({exc.code!r}); return from forward instead of exiting",
        )
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in text.lower():
        return MessageKind.OUT_OF_MEMORY, "the kernel ran out of device memory; check the sizes it allocates"
    if "illegal memory access" in text or "misaligned address" in text or "CUDA error" in text:
        return MessageKind.CUDA_ERROR, (
            "a CUDA kernel faulted; check its index bounds (run under compute-sanitizer to find the access); "
            "the worker was replaced"
        )
    return default_kind, ""


class UserCode:
    """Context manager: any exception from user code becomes an EvalError pointing into the user's files."""

    def __init__(self, phase: Phase, kind: MessageKind, files: tuple[str, ...]) -> None:
        self.phase, self.kind, self.files = phase, kind, files

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is None or exc_type is KeyboardInterrupt or isinstance(exc, EvalError):
            return
        kind, hint = classify(exc, self.kind)
        raise from_exception(exc, self.phase, kind, self.files, hint) from None
