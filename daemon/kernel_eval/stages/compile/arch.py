"""The architecture a build targets: worked out here alone, so every build of a file agrees on it to the byte.

The candidate worker, the build-only process (worker/build_only.py) and the worker's hello all read it from here.
A build for a GPU that the building process cannot see is given the arch in ARCH_ENV, spelled by `spelled`.
Nothing here imports torch until a device is asked about: the parent side reads ARCH_ENV too.
"""

from __future__ import annotations

import attrs

# set by the parent (engine/builds.py) for a build-only process that builds for a GPU it cannot see
ARCH_ENV = "KERNEL_EVAL_PREBUILD_ARCH"
CPU = "cpu"


@attrs.frozen
class BuildArch:
    """What a build targets on one device."""

    # The device's own compute capability ("sm_90"), uncapped, or "cpu": part of the build cache's key.
    key: str
    # The capability as TORCH_CUDA_ARCH_LIST spells it ("9.0"), capped at the newest sm this torch was built for,
    # as torch caps it. "" for the CPU.
    torch_list: str = ""

    @property
    def is_gpu(self) -> bool:
        return self.key.startswith("sm_")

    @property
    def native_list(self) -> str:
        """The TORCH_CUDA_ARCH_LIST torch's cpp_extension picks on this GPU when none is set ("9.0+PTX")."""
        return f"{self.torch_list}+PTX"

    def spelled(self) -> str:
        """As ARCH_ENV and the `--arch` probe spell it: `sm_90:9.0+PTX`, or cpu."""
        return f"{self.key}:{self.native_list}" if self.is_gpu else CPU

    @classmethod
    def parse(cls, text: str) -> BuildArch | None:
        """The GPU arch that `spelled` wrote. None for anything else (cpu, unset): the building process then
        reads its own device."""
        key, _, native = text.partition(":")
        return cls(key, native.split("+")[0]) if key.startswith("sm_") else None


ON_CPU = BuildArch(CPU)


def of_device(index: int = 0) -> BuildArch:
    """The build arch of visible CUDA device `index`."""
    import torch

    capability = torch.cuda.get_device_capability(index)
    major, minor = min(capability, _newest_built(torch.cuda.get_arch_list()) or capability)
    return BuildArch("sm_{}{}".format(*capability), f"{major}.{minor}")


def of_visible() -> BuildArch:
    """The build arch of this process's first visible CUDA device, or the CPU's when it sees none."""
    import torch

    return of_device(0) if torch.cuda.is_available() else ON_CPU


def _newest_built(arch_list: list[str]) -> tuple[int, int] | None:
    """The newest (major, minor) among torch's `sm_XY` and `sm_XYa` entries, or None when it lists none."""
    built = [
        int("".join(c for c in entry.split("_")[1] if c.isdigit())) for entry in arch_list if "sm_" in entry
    ]
    return max(((sm // 10, sm % 10) for sm in built), default=None)
