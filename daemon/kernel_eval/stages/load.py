"""Importing a user's reference or custom file as a real module (runs inside a worker)."""

from __future__ import annotations

import functools
import importlib.util
import inspect
import itertools
import os
import site
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from kernel_eval import import_line, source_info
from kernel_eval.errors import EvalError, fail, from_exception
from kernel_eval.kinds import MessageKind
from kernel_eval.result import Location, Phase

_counter = itertools.count()


def import_file(path: str, role: str) -> ModuleType:
    """Import `path` under a fresh module name, so an edited file reloads in the same worker."""
    file = Path(path).resolve()
    if not file.is_file():
        raise fail(
            Phase.LOAD,
            MessageKind.FILE_NOT_FOUND,
            f"{role} file not found: {file}",
            hint="check the path you passed",
        )
    name = f"kernel_eval_{role}_{file.stem}_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise fail(
            Phase.LOAD,
            MessageKind.IMPORT_ERROR,
            f"cannot import {file} as a Python module",
            Location(str(file), 1),
        )
    forget_local_modules(file.parent)  # a warm worker must not keep an edited helper module next to the file
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses, pickling and Triton's source lookup need the module registered
    folder = str(file.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # sibling imports (helpers next to the kernel) work as in `python file.py`
    try:
        with import_line.recording(str(file)):
            spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(name, None)
        line = exc.lineno or 0
        raise fail(
            Phase.LOAD,
            MessageKind.SYNTAX_ERROR,
            f"SyntaxError: {exc.msg}",
            Location(
                exc.filename or str(file), line, exc.offset or 0, exc.end_lineno or 0, exc.end_offset or 0
            ),
            hint=f"fix the syntax at line {line}" if line else "fix the syntax (Python gave no line)",
        ) from None
    except EvalError:
        sys.modules.pop(name, None)
        raise
    except BaseException as exc:
        sys.modules.pop(name, None)
        raise from_exception(
            exc,
            Phase.LOAD,
            MessageKind.IMPORT_ERROR,
            (str(file),),
            hint=f"importing {file.name} failed; fix the error above",
        ) from None
    return module


def forget_local_modules(folder: Path) -> None:
    """Drop modules imported from `folder` (the user's own helpers), so the next import reads them again."""
    for name in list(local_modules(folder)):
        sys.modules.pop(name, None)


def local_module_stamps(folder: Path) -> dict[str, int]:
    """Modification times of the user's helper modules under `folder` that are imported now."""
    stamps = {}
    for name, file in local_modules(folder).items():
        if name.startswith("kernel_eval_"):
            continue  # the user files we import ourselves are keyed by their content, not their mtime
        try:
            stamps[file] = os.stat(file).st_mtime_ns
        except OSError:
            stamps[file] = -1
    return stamps


def local_modules(folder: Path) -> dict[str, str]:
    """name -> file of imported modules that live under `folder`, not in an installed package or kernel-eval."""
    installed = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, *site.getsitepackages()})
    inside = str(folder).rstrip(os.sep) + os.sep
    found = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not file or name == "kernel_eval" or name.startswith("kernel_eval."):
            continue
        path = _resolved(file)
        if path.startswith(inside) and not path.startswith(installed):
            found[name] = path
    return found


def warm_module_paths() -> None:
    """Resolve the paths of the modules imported so far (torch's, thousands), while the worker is idle: a fresh
    worker's first load then resolves only the modules the user's file brings."""
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str):
            _resolved(file)


@functools.lru_cache(maxsize=16384)
def _resolved(file: str) -> str:
    """A module file's real path. Asked for every imported module (thousands with torch) on each load."""
    return str(Path(file).resolve())


def entry_point(module: ModuleType, name: str, file: str, what: str) -> Any:
    value = getattr(module, name, None)
    if value is None:
        classes = sorted(
            k for k, v in vars(module).items() if isinstance(v, type) and v.__module__ == module.__name__
        )
        flag = "--ref_entry_point" if what == "reference" else "--custom_entry_point"
        found = f"; classes defined there: {', '.join(classes)}" if classes else ""
        raise fail(
            Phase.LOAD,
            MessageKind.MISSING_ENTRY_POINT,
            f"{Path(file).name} has no class {name}{found}",
            Location(file, 1),
            hint=f"define class {name} in {Path(file).name}, or pass {flag} with the class to evaluate",
        )
    return value


def required_function(module: ModuleType, name: str, file: str) -> Any:
    value = getattr(module, name, None)
    if not callable(value):
        raise fail(
            Phase.LOAD,
            MessageKind.MISSING_FUNCTION,
            f"{Path(file).name} has no function {name}()",
            Location(file, 1),
            hint=f"define {name}() in {Path(file).name}, returning a list of inputs (or [args, kwargs])",
        )
    return value


def model_class(module: ModuleType, name: str, file: str, what: str) -> Any:
    """The entry point `name`, checked to be something that makes an nn.Module: a subclass of it, or (rarely) a
    function that returns one."""
    import torch.nn

    value = entry_point(module, name, file, what)
    where = Location(file, source_info.definition_line(source_info.read_text(file), name) or 1)
    fix = f"define `class {name}(nn.Module):` with __init__ (calling super().__init__() first) and forward"
    if not callable(value):
        raise fail(
            Phase.LOAD,
            MessageKind.ENTRY_POINT_NOT_CALLABLE,
            f"{name} is {_a(type(value).__name__)} ({_short(value)}), not a class: it cannot make a model",
            where,
            hint=fix,
        )
    if isinstance(value, type) and not issubclass(value, torch.nn.Module):
        bases = ", ".join(base.__name__ for base in value.__bases__)
        raise fail(
            Phase.LOAD,
            MessageKind.NOT_A_MODULE,
            f"class {name} is not a torch.nn.Module (its bases: {bases})",
            where,
            hint=f"write `class {name}(nn.Module):` and call super().__init__() first in __init__",
        )
    return value


def construct(cls: Any, args: list[Any], kwargs: dict[str, Any], name: str, file: str, what: str) -> Any:
    """`cls(*args, **kwargs)`, the arguments being get_init_inputs()'s. A mismatch is told at __init__'s line,
    with the values and the signature, before any of the user's __init__ runs."""
    import torch.nn

    _check_arguments(cls, args, kwargs, name, file, what)
    model = cls(*args, **kwargs)
    if not isinstance(model, torch.nn.Module):
        raise fail(
            Phase.LOAD,
            MessageKind.NOT_A_MODULE,
            f"{name}(...) returned {_a(type(model).__name__)}, not a torch.nn.Module",
            Location(file, source_info.definition_line(source_info.read_text(file), name) or 1),
            hint=f"make {name} a class deriving from nn.Module",
        )
    return model


def _check_arguments(
    cls: Any, args: list[Any], kwargs: dict[str, Any], name: str, file: str, what: str
) -> None:
    import torch.nn

    try:  # a module without its own __init__ takes nothing (nn.Module's *args refuses all)
        own = getattr(cls, "__init__", None) is not torch.nn.Module.__init__
        signature = inspect.signature(cls) if own else inspect.Signature()
    except (TypeError, ValueError):  # no signature to read (a builtin): the call itself will tell
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        given = f"{_short(list(args))}" + (f" and keywords {_short(kwargs)}" if kwargs else "")
        fix = (
            f"make {name}.__init__ take the values get_init_inputs() returns, or change get_init_inputs()"
            if what == "reference"
            else f"make {name}.__init__ take the same arguments as the reference Model's __init__ "
            "(get_init_inputs() in the reference file makes them), or change get_init_inputs()"
        )
        raise fail(
            Phase.LOAD,
            MessageKind.INIT_ARGUMENTS,
            f"{name}{signature} cannot take the arguments get_init_inputs() returns, {given}: {exc}",
            Location(file, _init_line(cls, file)),
            hint=fix,
        ) from None


def _init_line(cls: Any, file: str) -> int:
    """The line of `def __init__` when it is in `file`, else the class's line."""
    init = getattr(cls, "__init__", None)
    code = getattr(init, "__code__", None)
    if code is not None and os.path.realpath(code.co_filename) == os.path.realpath(file):
        return int(code.co_firstlineno)
    name = getattr(cls, "__name__", "")
    return source_info.definition_line(source_info.read_text(file), name) or 1


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _short(value: Any, depth: int = 0) -> str:
    """A value as a user would recognise it, never more than a line: tensors by shape and dtype."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"tensor(shape={list(value.shape)}, dtype={value.dtype})"
    if isinstance(value, list | tuple) and depth < 2:
        items = [_short(item, depth + 1) for item in value[:6]] + (["..."] if len(value) > 6 else [])
        return ("[{}]" if isinstance(value, list) else "({})").format(", ".join(items))
    if isinstance(value, dict) and depth < 2:
        return "{" + ", ".join(f"{k!r}: {_short(v, depth + 1)}" for k, v in list(value.items())[:6]) + "}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
