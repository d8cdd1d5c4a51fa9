"""The CPU test cases in tests/test_data/cpu: model_new_<case>.py and the reference it is judged against."""

from __future__ import annotations

from pathlib import Path

CPU_DATA = Path(__file__).resolve().parent / "test_data" / "cpu"
# Cases without a reference of their own are judged against another case's (model_add.py unless named here).
SHARED_REFERENCES = {"dict_wrong": "dict", "tuple_wrong": "tuple", "zeros": "tiny", "large_k_fp16": "large_k"}


def cpu_case(case: str) -> tuple[Path, Path]:
    """(reference, custom) for tests/test_data/cpu/model_new_<case>.py."""
    own = CPU_DATA / f"model_{case}.py"
    ref = own if own.exists() else CPU_DATA / f"model_{SHARED_REFERENCES.get(case, 'add')}.py"
    return ref, CPU_DATA / f"model_new_{case}.py"
