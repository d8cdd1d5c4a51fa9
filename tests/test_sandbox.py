"""The code under test runs confined (README: "The sandbox"): a probe module's every escape is denied while its
verdict stays correct; modules that rewrite the evaluator or their reference are judged error in every run and
leave those files as they were; `--sandbox strict` refuses to run where a protection is missing; `--sandbox off`
says so in the headline.

Each CLI run here uses a copy of the kernel_eval package, so a sandbox that failed could not damage the checkout.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_eval.result import EvalResult, ProtectionState, SandboxMode, Verdict
from kernel_eval.sandbox import environment, landlock

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "test_data" / "sandbox"
SECRETS = {"MY_SERVICE_API_KEY": "sk-123", "AWS_SECRET_ACCESS_KEY": "aws-456", "GITHUB_TOKEN": "ghp-789"}
needs_landlock = pytest.mark.skipif(landlock.abi_version() < 6, reason="needs Landlock ABI 6 (Linux 6.12)")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A case folder, a fake home with a secret in it, and a copy of the evaluator to run."""
    shutil.copytree(DATA, tmp_path / "case")
    (tmp_path / "home" / ".ssh").mkdir(parents=True)
    (tmp_path / "home" / ".ssh" / "id_rsa").write_text("-----BEGIN SECRET KEY-----")
    shutil.copytree(REPO / "daemon" / "kernel_eval", tmp_path / "pkg" / "kernel_eval")
    return tmp_path


def run_cli(
    site: Path,
    custom: str,
    *args: str,
    env: dict[str, str] | None = None,
    ref: str = "model_relu.py",
    device: str = "cpu",
) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(p for p in (str(site / "pkg"), os.environ.get("PYTHONPATH", "")) if p)
    environ = {**os.environ, **SECRETS, "HOME": str(site / "home"), "PYTHONPATH": path}
    environ.pop("XDG_CACHE_HOME", None)
    argv = [sys.executable, "-m", "kernel_eval.cli", "--device", device, "--json"]
    argv += ["--ref_src", str(site / "case" / ref), "--custom_src", str(site / "case" / custom)]
    argv += ["--build_dir_prefix", str(site / "build"), *args]
    return subprocess.run(
        argv, env={**environ, **(env or {})}, capture_output=True, text=True, timeout=300, cwd=site
    )


def result_of(done: subprocess.CompletedProcess[str]) -> EvalResult:
    assert done.stdout.strip(), done.stderr
    return EvalResult.from_dict(json.loads(done.stdout))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def listeners(site: Path) -> Iterator[dict[str, list[str]]]:
    """TCP, UDP and abstract Unix sockets on this machine for the probe to reach; what reached them."""
    reached: dict[str, list[str]] = {"tcp": [], "udp": [], "abstract": []}
    tcp = socket.create_server(("127.0.0.1", 0))
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)
    name = f"kernel-eval-probe-{uuid.uuid4()}"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract.bind("\0" + name)
    abstract.listen()
    for server in (tcp, abstract):
        server.settimeout(0.2)
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for kind, server in (("tcp", tcp), ("abstract", abstract)):
                try:
                    server.accept()[0].close()
                    reached[kind].append("connected")
                except OSError:
                    pass
            try:
                udp.recvfrom(16)
                reached["udp"].append("datagram")
            except OSError:
                pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    setup = {
        "tcp_port": tcp.getsockname()[1],
        "udp_port": udp.getsockname()[1],
        "abstract_name": name,
        "secret_names": sorted(SECRETS),
    }
    (site / "case" / "probe_setup.json").write_text(json.dumps(setup))
    yield reached
    stop.set()
    watcher.join()
    for server in (tcp, udp, abstract):
        server.close()


@needs_landlock
def test_every_escape_of_a_correct_module_is_denied_and_its_verdict_stays_correct(
    site: Path, listeners: dict[str, list[str]]
) -> None:
    done = run_cli(site, "model_new_probe.py")

    result = result_of(done)
    assert result.verdict is Verdict.CORRECT and done.returncode == 0, result.headline
    line = next(
        x for x in result.captured_output["custom"].splitlines() if x.startswith("KERNEL_EVAL_PROBE ")
    )
    outcomes = json.loads(line.removeprefix("KERNEL_EVAL_PROBE "))
    assert len(outcomes) == 20
    assert {name: outcome for name, outcome in outcomes.items() if outcome != "denied"} == {}
    assert listeners == {"tcp": [], "udp": [], "abstract": []}
    assert not (site / "pkg" / "kernel_eval" / "probe.py").exists()
    assert not (site / "case" / "model_relu_copy.py").exists()
    assert not (site / "home" / "probe.txt").exists() and not (site / "home" / "child.txt").exists()
    assert result.sandbox is not None and result.sandbox.mode is SandboxMode.AUTO
    assert {p.name: p.state for p in result.sandbox.protections} == {
        name: ProtectionState.ON
        for name in (
            "filesystem",
            "network",
            "signals",
            "abstract_sockets",
            "other_processes",
            "capabilities",
            "syscall_filter",
            "environment",
        )
    }


@needs_landlock
def test_a_module_rewriting_the_evaluator_is_an_error_at_its_line_in_every_run(site: Path) -> None:
    check = site / "pkg" / "kernel_eval" / "stages" / "check.py"
    before = digest(check)

    for _ in range(2):
        done = run_cli(site, "model_new_rewrites_evaluator.py")
        result = result_of(done)
        assert result.verdict is Verdict.ERROR and done.returncode == 2
        (error,) = result.errors
        assert error.kind == "sandbox_denied"
        assert error.location is not None and error.location.line == 10  # the open() of the evaluator's file
        assert error.location.file.endswith("model_new_rewrites_evaluator.py")
        assert f"access to {check} was denied by the sandbox" in error.message
        assert "may write only to" in error.hint

    assert digest(check) == before


@needs_landlock
def test_a_module_rewriting_its_reference_is_an_error_in_every_run(site: Path) -> None:
    reference = site / "case" / "model_relu.py"
    before = digest(reference)

    for _ in range(2):
        result = result_of(run_cli(site, "model_new_rewrites_reference.py"))
        assert result.verdict is Verdict.ERROR and result.errors[0].kind == "sandbox_denied"

    assert digest(reference) == before


def test_without_the_sandbox_a_reference_rewritten_during_the_evaluation_gets_no_verdict(site: Path) -> None:
    done = run_cli(site, "model_new_rewrites_reference.py", "--sandbox", "off")

    result = result_of(done)
    assert result.verdict is Verdict.ERROR and done.returncode == 2
    assert [m.kind for m in result.errors] == ["reference_changed"]
    assert "model_relu.py changed during the evaluation" in result.errors[0].message
    assert result.headline.endswith("· ⚠ sandbox off")
    assert any(m.kind == "sandbox_off" for m in result.messages)


def test_strict_refuses_to_run_user_code_where_a_protection_is_missing(
    site: Path, listeners: dict[str, list[str]]
) -> None:
    older_kernel = {"KERNEL_EVAL_LANDLOCK_ABI": "5"}  # as on Linux 6.10: no signal or socket scoping

    strict = run_cli(site, "model_new_probe.py", "--sandbox", "strict", env=older_kernel)
    auto = run_cli(site, "model_new_probe.py", env=older_kernel)

    refused = result_of(strict)
    assert strict.returncode == 2 and [m.kind for m in refused.errors] == ["sandbox_unavailable"]
    assert "--sandbox strict: not running model_new_probe.py" in refused.errors[0].message
    assert "signals: Landlock ABI 5" in refused.errors[0].message
    assert "--sandbox auto" in refused.errors[0].hint
    assert "KERNEL_EVAL_PROBE" not in refused.captured_output["custom"]  # the file was never imported
    ran = result_of(auto)
    assert auto.returncode == 0 and ran.verdict is Verdict.CORRECT
    assert any(
        m.kind == "sandbox" and m.message.startswith("sandbox: signals unavailable") for m in ran.messages
    )
    assert ran.sandbox is not None and [p.name for p in ran.sandbox.missing] == [
        "signals",
        "abstract_sockets",
    ]


def test_strict_without_landlock_refuses_and_says_why(site: Path, listeners: dict[str, list[str]]) -> None:
    done = run_cli(site, "model_new_probe.py", "--sandbox", "strict", env={"KERNEL_EVAL_LANDLOCK_ABI": "0"})

    error = result_of(done).errors[0]
    assert done.returncode == 2 and error.kind == "sandbox_unavailable"
    assert "filesystem: Landlock limited to ABI 0" in error.message


def test_the_environment_keeps_what_the_tools_read_and_drops_credentials() -> None:
    source = {
        "PATH": "/usr/bin",
        "CUDA_HOME": "/usr/local/cuda",
        "TORCH_CUDA_ARCH_LIST": "9.0",
        "TRITON_CACHE_DIR": "/c",
        "LC_ALL": "C",
        **SECRETS,
        "HF_TOKEN": "hf",
        "OPENAI_API_KEY": "o",
        "TRITON_API_KEY": "t",
        "SSH_AUTH_SOCK": "/run/agent",
        "KERNEL_EVAL_PASS_ENV": "MY_COMPILER_WRAPPER",
        "MY_COMPILER_WRAPPER": "ccache",
    }

    kept, dropped = environment.confined(source)

    assert set(kept) == {"PATH", "CUDA_HOME", "TORCH_CUDA_ARCH_LIST", "TRITON_CACHE_DIR", "LC_ALL",
                         "KERNEL_EVAL_PASS_ENV", "MY_COMPILER_WRAPPER"}  # fmt: skip
    assert set(dropped) == {*SECRETS, "HF_TOKEN", "OPENAI_API_KEY", "TRITON_API_KEY", "SSH_AUTH_SOCK"}


@pytest.mark.gpu
def test_gpu_escapes_are_denied_there_too(site: Path, listeners: dict[str, list[str]]) -> None:
    result = result_of(run_cli(site, "model_new_probe.py", device="cuda:0"))

    assert result.verdict is Verdict.CORRECT and result.device == "cuda:0", result.headline
    line = next(
        x for x in result.captured_output["custom"].splitlines() if x.startswith("KERNEL_EVAL_PROBE ")
    )
    outcomes = json.loads(line.removeprefix("KERNEL_EVAL_PROBE "))
    if landlock.abi_version() >= 6:
        assert {name: outcome for name, outcome in outcomes.items() if outcome != "denied"} == {}
    else:  # a host without Landlock scoping: say what was denied, and that the record says what is missing
        print("escapes not denied on this host:", {k: v for k, v in outcomes.items() if v != "denied"})
        assert result.sandbox is not None and result.sandbox.missing
    assert listeners == {"tcp": [], "udp": [], "abstract": []}


@pytest.mark.gpu
@pytest.mark.parametrize(
    ("folder", "ref", "custom"),
    [
        ("tests/test_data/cuda", "model_ex_add.py", "model_new_ex_add.py"),
        ("examples/triton_add", "model_add.py", "model_new_add.py"),
    ],
)
def test_gpu_cuda_extensions_and_triton_build_and_run_confined(
    site: Path, folder: str, ref: str, custom: str
) -> None:
    for name in (ref, custom):
        shutil.copy(REPO / folder / name, site / "case" / name)

    done = run_cli(site, custom, "--measure_performance", ref=ref, device="cuda:0")

    result = result_of(done)
    assert result.verdict is Verdict.CORRECT and done.returncode == 0, result.headline
    assert result.timing is not None and result.timing.meaningful
    assert result.sandbox is not None and result.sandbox.mode is SandboxMode.AUTO
    filesystem = next(p for p in result.sandbox.protections if p.name == "filesystem")
    if landlock.abi_version():
        assert filesystem.state is ProtectionState.ON and "writes only to" in filesystem.detail
