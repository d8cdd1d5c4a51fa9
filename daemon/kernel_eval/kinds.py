"""The stable machine-readable kinds of a result's messages and flags.

Their values are what clients see in the JSON (Message.kind, Flag.kind): renaming a value breaks them.
"""

from __future__ import annotations

import enum
import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, enum.Enum):
        """enum.StrEnum before Python 3.11: members are their values, in str() and f-strings alike."""

        def __str__(self) -> str:
            return str(self.value)


class MessageKind(StrEnum):
    """What a message is about: a stable tag clients may match on (its text is for people)."""

    # the request, checked before anything runs (preflight.py, the CLI)
    FILE_NOT_FOUND = "file_not_found"
    NOT_A_FILE = "not_a_file"
    NOT_READABLE = "not_readable"
    NOT_PYTHON = "not_python"
    NOT_TEXT = "not_text"  # binary or not UTF-8
    BAD_DEVICE = "bad_device"  # a --device that names no device
    NO_SUCH_DEVICE = "no_such_device"  # a GPU index this machine does not have
    NO_REFERENCE = "no_reference"  # no reference file was given or found for the custom file

    # loading the user's files
    SYNTAX_ERROR = "syntax_error"
    IMPORT_ERROR = "import_error"
    MISSING_ENTRY_POINT = "missing_entry_point"  # no class of the entry point's name
    MISSING_FUNCTION = "missing_function"  # a function the file must define, e.g. get_inputs()
    ENTRY_POINT_NOT_CALLABLE = "entry_point_not_callable"
    NOT_A_MODULE = "not_a_module"  # the entry point is or makes no torch.nn.Module
    INIT_ARGUMENTS = "init_arguments"  # the model cannot take what get_init_inputs() returns
    INIT_ERROR = "init_error"  # the custom model raised while being built
    REFERENCE_ERROR = "reference_error"  # the reference raised
    REFERENCE_CHANGED = "reference_changed"  # the reference file changed during the evaluation

    # building
    BUILD = "build"  # a note on how the custom extension was built
    COMPILE_ERROR = "compile_error"
    COMPILE_WARNING = "compile_warning"
    TRITON_COMPILE_ERROR = "triton_compile_error"
    CUDA_UNAVAILABLE = "cuda_unavailable"  # a CUDA extension with no CUDA GPU to build it for
    UNSAFE_BUILD_DIR = "unsafe_build_dir"  # the build directory belongs to another user
    COMPAT_SHIM = "compat_shim"  # the harness stood in for a call the custom file makes
    WEIGHTS = "weights"  # whether the reference's weights were copied into the custom model

    # running the user's code
    RUNTIME_ERROR = "runtime_error"
    SYSTEM_EXIT = "system_exit"
    OUT_OF_MEMORY = "out_of_memory"
    CUDA_ERROR = "cuda_error"  # a CUDA kernel faulted
    UNSUPPORTED_OUTPUT = "unsupported_output"  # forward returned something that cannot be compared
    SAME_INPUTS = "same_inputs"  # two trials got identical inputs: get_inputs ignores the seed
    TIMEOUT = "timeout"
    CRASH = "crash"  # the worker process died
    CANCELLED = "cancelled"

    # timing
    TIMING = "timing"  # a note on how the times were taken
    TIMING_INPUTS = "timing_inputs"  # fresh inputs for timing could not be made
    TIMING_INCONSISTENT = "timing_inconsistent"

    # the device and the sandbox
    DEVICE = "device"  # a note on the device the evaluation ran on
    SANDBOX = "sandbox"  # a protection this host cannot provide
    SANDBOX_OFF = "sandbox_off"
    SANDBOX_UNAVAILABLE = "sandbox_unavailable"  # --sandbox strict, and a protection is missing
    SANDBOX_DENIED = "sandbox_denied"  # the sandbox stopped something the user's code did

    # the harness itself
    WORKER_START_FAILED = "worker_start_failed"
    INTERNAL_ERROR = "internal_error"
    BATCH_ERROR = "batch_error"  # a batch pair that produced no result of its own


class FlagKind(StrEnum):
    """What the judge caught (docs/exploits.md): a stable tag clients may match on."""

    VACUOUS_CHECK = "vacuous_check"  # the tolerances pass outputs that are wrong
    OUTPUT_SUBCLASS = "output_subclass"  # forward returned something other than plain tensors
    REMEMBERED_RESULT = "remembered_result"  # timed calls returned outputs of inputs seen before
    FASTER_ON_SEEN_VALUES = "faster_on_seen_values"
    MACHINE_TOO_BUSY = "machine_too_busy"  # other work made the fresh-values check noise: no speedup is given
    NO_CUSTOM_KERNEL = "no_custom_kernel"  # the custom forward launches only PyTorch's own kernels
    CLOCK_TAMPERED = "clock_tampered"
    HARNESS_TAMPERED = "harness_tampered"
    SIDE_STREAM = "side_stream"  # work still running on another stream when forward returned
    UNTIMED_WORK = "untimed_work"  # work done between the timed calls
    BACKGROUND_THREAD = "background_thread"
    L2_PERSISTENCE = "l2_persistence"  # persisting L2 survives the cache flush between timed calls
    BELOW_PHYSICAL_FLOOR = "below_physical_floor"  # faster than moving its bytes allows
    HOST_TIME = "host_time"  # end to end far slower than its kernels: work the kernel figure cannot see
