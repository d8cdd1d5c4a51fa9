"""Build cache: per-user 0700 prefix, keys, stale torch locks, clearing a file's builds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kernel_eval.errors import EvalError
from kernel_eval.stages.compile import cache


def test_default_prefix_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    prefix = cache.private_prefix()
    assert prefix == tmp_path / "kernel-eval" / "builds"
    assert stat.S_IMODE(prefix.stat().st_mode) == 0o700


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to give a directory to another user")
def test_prefix_owned_by_another_user_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    with pytest.raises(EvalError) as raised:
        cache.private_prefix(str(foreign))
    assert raised.value.messages[0].kind == "unsafe_build_dir"
    assert "another user" in raised.value.messages[0].message


def test_key_changes_with_source_torch_cuda_and_arch() -> None:
    base = cache.build_key(b"src", "2.11", "13.0", "sm_90")
    assert base == cache.build_key(b"src", "2.11", "13.0", "sm_90")
    others = {
        cache.build_key(b"src2", "2.11", "13.0", "sm_90"),
        cache.build_key(b"src", "2.12", "13.0", "sm_90"),
        cache.build_key(b"src", "2.11", "12.8", "sm_90"),
        cache.build_key(b"src", "2.11", "13.0", "sm_100"),
    }
    assert base not in others and len(others) == 4


def test_lock_left_by_a_killed_build_is_cleared(tmp_path: Path) -> None:
    key_dir = tmp_path / "key"
    stale = key_dir / "torch_extensions" / "my_ext" / "lock"
    stale.parent.mkdir(parents=True)
    stale.touch()  # what torch's FileBaton leaves when its build is killed: the next build would wait forever
    with cache.build_lock(key_dir):
        assert not stale.exists()


def test_clear_file_cache_removes_every_key_of_that_file_only(tmp_path: Path) -> None:
    prefix = tmp_path / "builds"
    mine = cache.file_dir(cache.private_prefix(str(prefix)), str(tmp_path / "model_new_a.py"))
    other = cache.file_dir(prefix, str(tmp_path / "model_new_b.py"))
    for folder in (mine / "key1", mine / "key2", other / "key1"):
        folder.mkdir(parents=True)
    assert cache.clear_file_cache(str(tmp_path / "model_new_a.py"), str(prefix)) == [str(mine)]
    assert not mine.exists() and other.exists()
    assert cache.clear_file_cache(str(tmp_path / "model_new_a.py"), str(prefix)) == []
