"""Faster `load_inline` builds in the candidate worker, without changing what the user's code computes.

While the custom file imports, `torch.utils.cpp_extension.load_inline` is replaced by `InlineBuilds.load_inline`:

- Stable build directory per (custom file, extension name): `<root>/<name>`. load_inline rewrites main.cpp and cuda.cu
  only when their text changed (`_maybe_write`), so after an edit of a kernel body ninja recompiles cuda.cu and
  skips the binding main.cpp (its text, command line and headers are unchanged). A changed text gets a new mtime and
  is rebuilt; distinct files never share a directory. torch's in-process version bump (`name_v1`, which changes
  `-DTORCH_EXTENSION_NAME` and so every command line) is turned off: the module is instead imported from a copy of
  the library named by its content hash, as `_kernel_eval_<hash>.<name>` (dlopen caches by path, pybind11 3 by
  module name), so a rebuilt library is never confused with one already loaded in the same worker.
- Lighter headers (headers.py) in two tiers, built in `<root>/<name>.lean` and `<root>/<name>.slim`. When one fails
  the next is built, the sources as written last. With spare cores all are built at once and the first to succeed
  wins. A tier that failed where a later one built is not tried again until its headers change.
- Kernels apart (split.py, lever `split`): the `__global__` kernels compile in a unit of
  their own without torch headers, beside a host unit on each tier above (`<root>/<name>.split-lean`,
  `.split-slim`; `.split` with the headers as written when no tier applies), tried before the tiers. An edit of a
  kernel body recompiles only the kernel unit (~1 s) and relinks. A split that does not build or import is left
  for the next attempt.
- Device architecture only (TORCH_CUDA_ARCH_LIST), unless the user's flags name an architecture.
- Build phases printed as they run (ninja_runner).

Anything unusual (an explicit build_directory, SYCL, use_pch, a torch without the hooks) is passed to torch as is.
The private torch names swapped during a build are torch_hooks.py's. This module plans and races the attempts.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from kernel_eval.stages.compile import arch as build_arch
from kernel_eval.stages.compile import cache, headers, torch_hooks
from kernel_eval.stages.compile.ninja_runner import NinjaRun
from kernel_eval.stages.compile.split import (
    KERNEL_OBJECT,
    Split,
    add_kernel_unit,
    split_source,
    template_stub_flags,
)

# comma list of stable, slim, split, arch, race; "none": torch as is; unset: DEFAULT_LEVERS
LEVERS_ENV = "KERNEL_EVAL_BUILD_LEVERS"
DEFAULT_LEVERS = "stable,slim,split,arch,race"
RACE_MIN_CPUS = 8  # below this, a failed slim build is followed by the original instead of racing it


@attrs.define
class Attempt:
    label: str
    """Empty for the original sources."""
    build_dir: Path
    kwargs: dict[str, Any]
    run: NinjaRun
    slim_headers: tuple[str, ...] = ()
    kernels: str = ""
    """The split's kernel unit (empty when not split)."""
    # a split that failed in its kernel unit gets no marker: the next edit may fit
    kernel_unit_failed: bool = False
    failed: bool = False
    """It ran and did not build (not: stopped because another attempt won)."""

    @property
    def failed_marker(self) -> Path:
        """Left in a slim attempt's directory when it failed, naming its headers: the same headers are not tried
        again for this extension (each edit would pay for the failure), different ones are."""
        return self.build_dir / ".kernel-eval-slim-failed"


@attrs.define
class Levers:
    """What was done to the builds of one import, for the build note."""

    stable_dir: list[str] = attrs.Factory(list)
    """Extension names built in their stable directory."""
    slim: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    """The headers that replaced the umbrella ones, by name."""
    slim_failed: list[str] = attrs.Factory(list)
    """"<name> (<attempt label>)" of each that failed (or failed before)."""
    split: list[str] = attrs.Factory(list)
    """Names whose kernels were built in a unit of their own."""
    untouched: list[str] = attrs.Factory(list)
    """Names passed to torch as is."""
    arch: str = ""
    """TORCH_CUDA_ARCH_LIST used, "" if left alone."""
    raced: bool = False
    unit_times: dict[str, float] = attrs.Factory(dict)
    """Seconds compiled, per "<name>/<object>" (absent: reused)."""

    @property
    def used(self) -> bool:
        return bool(self.stable_dir or self.untouched)

    def text(self) -> str:
        parts = []
        if self.stable_dir:
            parts.append(
                f"stable build directory for {', '.join(self.stable_dir)} (unchanged sources not recompiled)"
            )
        if self.split:
            parts.append(
                f"kernels built apart from the host code for {', '.join(self.split)} (no torch headers)"
            )
        for name, used in self.slim.items():
            parts.append(f"lighter headers for {name} (instead of <torch/extension.h>): {', '.join(used)}")
        for entry in self.slim_failed:
            parts.append(f"{entry} did not build (not tried again until those headers change)")
        if self.arch:
            parts.append(f"device architecture only (TORCH_CUDA_ARCH_LIST={self.arch})")
        if self.raced:
            parts.append("lighter and original headers built side by side, first to finish kept")
        if self.untouched:
            parts.append(f"built as torch does: {', '.join(self.untouched)}")
        compiled = ", ".join(f"{unit} {seconds:.1f} s" for unit, seconds in self.unit_times.items())
        parts.append(f"compiled: {compiled}" if compiled else "nothing recompiled")
        return "; ".join(parts)


@attrs.define
class InlineBuilds:
    root: Path
    """<key dir>/torch_extensions: one stable directory per extension name below."""
    arch: str = ""
    """E.g. "9.0". Empty leaves TORCH_CUDA_ARCH_LIST alone."""
    slim: bool = True
    split: bool = True
    """Kernels apart (split.py)."""
    race: bool | None = None
    """None: race when the machine has RACE_MIN_CPUS cores."""
    echo: bool = True
    enabled: bool = True
    """False: load_inline is left to torch."""
    levers: Levers = attrs.Factory(Levers)
    _runs: dict[str, NinjaRun] = attrs.Factory(dict)
    _splits: dict[str, Attempt] = attrs.Factory(dict)
    """The split attempt building in each build dir."""

    @contextmanager
    def installed(self) -> Iterator[Levers]:
        """Route load_inline through this object while the block runs (the custom file's import)."""
        from torch.utils import cpp_extension

        original = cpp_extension.load_inline
        self.levers = Levers()
        if not self.enabled:
            yield self.levers
            return
        cpp_extension.load_inline = self._entry(original)
        try:
            yield self.levers
        finally:
            cpp_extension.load_inline = original

    def _entry(self, original: Callable[..., Any]) -> Callable[..., Any]:
        active = threading.get_ident()

        def load_inline(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() != active:
                return original(*args, **kwargs)
            return self.load_inline(original, *args, **kwargs)

        load_inline.__doc__ = original.__doc__
        return load_inline

    def load_inline(self, original: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from torch.utils import cpp_extension

        bound = inspect.signature(original).bind(*args, **kwargs)
        bound.apply_defaults()
        call = dict(bound.arguments)
        name = str(call["name"])
        if not _plain(call) or not torch_hooks.available(cpp_extension):
            self.levers.untouched.append(name)
            return original(*args, **kwargs)
        attempts = self._attempts(name, call)
        with self._hooks(cpp_extension):
            winner, library = self._build(original, attempts)
        module = self._imported(cpp_extension, library, name, call, winner)
        if module is None:  # the split built but did not import: the next attempt, as if it had failed
            with self._hooks(cpp_extension):
                winner, library = self._build(original, [a for a in attempts if not a.kernels])
            module = torch_hooks.import_copy(cpp_extension, library, name, bool(call["is_python_module"]))
        if winner.kernels:
            self.levers.split.append(name)
        self.levers.stable_dir.append(name)
        user_arch = any("arch" in str(flag) for flag in call.get("extra_cuda_cflags") or [])
        # torch ignores the list when the user names one
        if self.arch and call["cuda_sources"] and not user_arch:
            self.levers.arch = self.arch
        if winner.slim_headers:
            self.levers.slim[name] = winner.slim_headers
        # The original built where the slim one failed: the slim headers lack something.
        for attempt in attempts:
            if attempt.slim_headers and attempt.failed and not attempt.kernel_unit_failed:
                attempt.failed_marker.write_text("\n".join(attempt.slim_headers))
                self.levers.slim_failed.append(f"{name} ({attempt.label})")
            elif attempt is winner:
                attempt.failed_marker.unlink(missing_ok=True)
        for unit, seconds in winner.run.unit_times.items():
            if not unit.endswith(str(cpp_extension.LIB_EXT)):
                self.levers.unit_times[f"{name}/{unit}"] = seconds
        return module

    def _imported(
        self, cpp_extension: Any, library: Path, name: str, call: dict[str, Any], winner: Attempt
    ) -> Any:
        """The built library imported. None when a split one does not import (a symbol the split got wrong)."""
        try:
            return torch_hooks.import_copy(cpp_extension, library, name, bool(call["is_python_module"]))
        except ImportError:
            if not winner.kernels:
                raise
            winner.failed = True
            return None

    def _attempts(self, name: str, call: dict[str, Any]) -> list[Attempt]:
        """Splits first (their host unit on each header tier), then the lighter-headed variants (lean, then base:
        see headers), the sources as written last."""
        can_slim = bool(self.slim and call["cuda_sources"] and not call.get("no_implicit_headers", True))
        parts = split_source(_joined(call["cuda_sources"])) if self.split and call["cuda_sources"] else None
        splits, tiers = [], []
        for label, base in (("lean headers", headers.LEAN_HEADERS), ("slim headers", headers.BASE_HEADERS)):
            suffix = label.split()[0]
            if parts is not None:
                host = headers.slim_cuda_source(parts.host, base=base) if can_slim else None
                if host is not None:
                    split_call, used = self._slim_call(call, host, base)
                    label_split = f"kernels apart, {label}"
                    splits.append(self._split(label_split, name, f"split-{suffix}", split_call, parts, used))
            slim = headers.slim_cuda_source(_joined(call["cuda_sources"]), base=base) if can_slim else None
            if slim is not None:
                slim_call, used = self._slim_call(call, slim, base)
                tiers.append(self._attempt(label, self.root / f"{name}.{suffix}", slim_call, used))
        if parts is not None and not splits:  # no lighter headers for its host unit: as written
            as_written = dict(call, cuda_sources=[parts.host])
            splits.append(self._split("kernels apart", name, "split", as_written, parts))
        attempts = []
        for attempt in (*splits, *tiers):
            if _failed_before(attempt):
                self.levers.slim_failed.append(f"{name} ({attempt.label})")
            else:
                attempts.append(attempt)
        attempts.append(self._attempt("", self.root / name, call))
        return attempts

    @staticmethod
    def _slim_call(
        call: dict[str, Any], slim: headers.SlimSource, base: tuple[str, ...]
    ) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The call with `slim` as its CUDA source and the binding's lighter headers, and the headers it uses (its
        failure marker names them)."""
        cpp = _as_list(call["cpp_sources"])
        binding = headers.slim_binding_sources(cpp, base=base)
        slim_call = dict(call, no_implicit_headers=True, cuda_sources=[slim.text])
        slim_call["cpp_sources"] = binding or ["#include <torch/extension.h>", *cpp]
        return slim_call, (*slim.headers, *(headers.BINDING_HEADERS if binding else ()))

    def _split(
        self,
        label: str,
        name: str,
        suffix: str,
        host_call: dict[str, Any],
        parts: Split,
        used: tuple[str, ...] = (),
    ) -> Attempt:
        """The host unit as cuda.cu, the kernel unit beside it (added to torch's build file when ninja runs)."""
        if parts.templated:
            flags = [*(host_call.get("extra_cuda_cflags") or []), *template_stub_flags(_nvcc())]
            host_call = dict(host_call, extra_cuda_cflags=flags)
        attempt = self._attempt(label, self.root / f"{name}.{suffix}", host_call, used)
        attempt.kernels = parts.kernels
        self._splits[str(attempt.build_dir.resolve())] = attempt
        return attempt

    def _attempt(
        self, label: str, build_dir: Path, call: dict[str, Any], slim_headers: tuple[str, ...] = ()
    ) -> Attempt:
        build_dir.mkdir(parents=True, exist_ok=True)
        run = NinjaRun(build_dir, label, self.echo)
        self._runs[str(build_dir.resolve())] = run
        return Attempt(label, build_dir, dict(call, build_directory=str(build_dir)), run, slim_headers)

    def _build(self, original: Callable[..., Any], attempts: list[Attempt]) -> tuple[Attempt, Path]:
        """The first attempt that builds, or the last attempt's error if none does. Splits are tried among themselves
        first: raced against a tier, a split could lose a cold build and be stopped, and then the next edit would
        find no host object to keep. A split whose kernels need torch fails in its kernel unit within a second.
        Splits whose host units failed leave out the tiers with the same headers, which would fail alike."""
        splits = [attempt for attempt in attempts if attempt.kernels]
        rest = [attempt for attempt in attempts if not attempt.kernels]
        if splits and rest:
            try:
                return self._first_built(original, splits)
            except Exception:
                if not any(attempt.kernel_unit_failed for attempt in splits):
                    rest = [attempt for attempt in rest if not attempt.slim_headers] or rest
        return self._first_built(original, rest or splits)

    def _first_built(self, original: Callable[..., Any], attempts: list[Attempt]) -> tuple[Attempt, Path]:
        """In order, or raced on a machine with cores to spare."""
        race = self.race if self.race is not None else (os.cpu_count() or 1) >= RACE_MIN_CPUS
        if len(attempts) == 1 or not race:
            for attempt in attempts:
                try:
                    return attempt, _built(original, attempt)
                except Exception:
                    if attempt is attempts[-1]:
                        raise
            raise AssertionError("unreachable")
        self.levers.raced = True
        return _race(original, attempts)

    @contextmanager
    def _hooks(self, cpp_extension: Any) -> Iterator[None]:
        arch_list = cache.environment("TORCH_CUDA_ARCH_LIST", self.arch or None)
        with torch_hooks.swapped(cpp_extension, self._run_ninja), arch_list:
            yield

    def _run_ninja(self, build_directory: str, error_prefix: str) -> bool:
        """Run ninja in an attempt's directory (False for one this object did not plan)."""
        key = str(Path(build_directory).resolve())
        run = self._runs.get(key)
        if run is None:
            return False
        split = self._splits.get(key)
        if split is not None:  # the kernel unit first and alone: one that needs torch fails in a second
            add_kernel_unit(Path(build_directory), split.kernels)
            try:
                run.run(error_prefix, (KERNEL_OBJECT,))
            except Exception:
                split.kernel_unit_failed = True
                raise
        run.run(error_prefix)
        return True


def for_key_dir(key_dir: Path, arch: str | None = None) -> InlineBuilds:
    """The builds of one custom file's import: in `<key_dir>/torch_extensions`, for `arch` ("9.0"; None: this
    process's CUDA device), with the levers LEVERS_ENV names (all when unset)."""
    chosen = {part.strip() for part in os.environ.get(LEVERS_ENV, DEFAULT_LEVERS).split(",")}
    return InlineBuilds(
        key_dir / "torch_extensions",
        arch=(build_arch.of_visible().torch_list if arch is None else arch) if "arch" in chosen else "",
        slim="slim" in chosen,
        split="split" in chosen,
        race=None if "race" in chosen else False,
        enabled="stable" in chosen,
    )


def _failed_before(attempt: Attempt) -> bool:
    try:
        return attempt.failed_marker.read_text() == "\n".join(attempt.slim_headers)
    except OSError:
        return False


def _built(original: Callable[..., Any], attempt: Attempt) -> Path:
    try:
        result = original(**_copied(attempt.kwargs))
    except Exception:
        attempt.failed = not attempt.run.stop.is_set()
        raise
    if not isinstance(result, torch_hooks.Built):
        raise RuntimeError(f"Error building extension: unexpected result {result!r}")
    return result.library


def _race(original: Callable[..., Any], attempts: list[Attempt]) -> tuple[Attempt, Path]:
    """Build every attempt at once. Keep the first that succeeds (stopping the rest), else raise the last error."""
    errors: dict[int, BaseException] = {}
    with concurrent.futures.ThreadPoolExecutor(len(attempts)) as pool:
        futures = {pool.submit(_built, original, attempt): index for index, attempt in enumerate(attempts)}
        for future in concurrent.futures.as_completed(futures):
            index = futures[future]
            error = future.exception()
            if error is None:
                for other in attempts:
                    if other is not attempts[index]:
                        other.run.stop.set()
                return attempts[index], future.result()
            errors[index] = error
    raise errors[len(attempts) - 1]


def _nvcc() -> str:
    from torch.utils import cpp_extension

    home = cpp_extension.CUDA_HOME
    return str(Path(home) / "bin" / "nvcc") if home else "nvcc"


def _plain(call: dict[str, Any]) -> bool:
    """A call whose build this module understands: no directory of the user's choosing, no SYCL, no PCH."""
    return not call.get("build_directory") and not call.get("sycl_sources") and not call.get("use_pch")


def _as_list(sources: Any) -> list[str]:
    if sources is None:
        return []
    return [sources] if isinstance(sources, str) else list(sources)


def _joined(sources: Any) -> str:
    return "\n".join(_as_list(sources))


def _copied(kwargs: dict[str, Any]) -> dict[str, Any]:
    """load_inline inserts into the source lists it is given: give it fresh ones each time."""
    fresh = dict(kwargs)
    for key in ("cpp_sources", "cuda_sources", "sycl_sources"):
        if isinstance(fresh.get(key), list):
            fresh[key] = list(fresh[key])
    return fresh
