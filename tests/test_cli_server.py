"""The CLI's warm server, end to end on the CPU: real CLI processes, a real server, real Unix sockets.

(Named test_cli_server.py: tests/daemon/test_server.py, the language server's, holds the other basename.)
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import servers
from cases import cpu_case

from kernel_eval.result import EvalResult, Verdict
from kernel_eval.server import address

RunCli = Callable[..., subprocess.CompletedProcess[str]]

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def pair(case: str) -> tuple[str, Path, str, Path]:
    ref, custom = cpu_case(case)
    return ("--ref_src", ref, "--custom_src", custom)


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A runtime folder of this test's own: the servers it starts are stopped at its end."""
    folder = servers.runtime_dir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    yield folder
    servers.stop_servers(folder)
    shutil.rmtree(folder, ignore_errors=True)


def where() -> address.Address:
    """The address a CLI run by run_cli uses."""
    return address.address(servers.cli_env())


def result_of(proc: subprocess.CompletedProcess[str]) -> EvalResult:
    assert "Traceback" not in proc.stderr, proc.stderr
    return EvalResult.from_dict(json.loads(proc.stdout))


def judged(result: EvalResult) -> object:
    """What a result says of correctness, the secret trial's values (a seed of its own each time) left out."""
    assert result.correctness is not None
    c = result.correctness
    seen = [(t.trial, t.seed, t.passed, t.outputs) for t in c.trials if not t.secret]
    return (result.verdict, result.exit_code, result.phase, result.backend, c.num_trials, c.num_passed, seen)


def serve(*args: str) -> subprocess.Popen[str]:
    """`kernel-eval serve ARGS` in the CLI's environment, until it listens."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "run_and_check.py"), "serve", *args],
        cwd=REPO,
        env=servers.cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while servers.server_pid(where().socket) != proc.pid:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the server did not listen"
        time.sleep(0.05)
    return proc


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended while we looked
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def test_first_call_starts_a_private_server_that_later_calls_reuse(run_cli: RunCli, runtime: Path) -> None:
    first = run_cli(*pair("add"), "--device", "cpu", "--json")
    assert first.returncode == 0, first.stderr

    sock = where().socket
    assert stat.S_ISSOCK(sock.stat().st_mode)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE(sock.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(where().log.stat().st_mode) == 0o600
    pid = servers.server_pid(sock)
    assert pid is not None

    again = run_cli(*pair("add"), "--device", "cpu", "--json", "--verbose")
    assert f"evaluating on the kernel-eval server (pid {pid}," in again.stderr
    assert judged(result_of(again)) == judged(result_of(first))

    here = run_cli(*pair("add"), "--device", "cpu", "--json", "--no-server")
    assert here.returncode == first.returncode
    assert judged(result_of(here)) == judged(result_of(first))
    assert servers.server_pid(sock) == pid


def test_an_incorrect_result_is_the_same_served_or_not(run_cli: RunCli, runtime: Path) -> None:
    served = run_cli(*pair("wrong_shape"), "--device", "cpu", "--json")
    here = run_cli(*pair("wrong_shape"), "--device", "cpu", "--json", "--no-server")

    assert servers.server_pid(where().socket) is not None
    assert served.returncode == here.returncode == 1
    assert judged(result_of(served)) == judged(result_of(here))
    human = run_cli(*pair("wrong_shape"), "--device", "cpu")
    assert human.returncode == 1 and human.stdout.startswith("incorrect"), human.stdout + human.stderr


def start_cli(*args: str | Path, tmp_path: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, str(REPO / "scripts" / "run_and_check.py"), *map(str, args)]
    argv += ["--build_dir_prefix", str(tmp_path / "build")]
    return subprocess.Popen(
        argv, cwd=REPO, env=servers.cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_log(text: str, count: int = 1) -> None:
    deadline = time.monotonic() + 60
    while not (where().log.exists() and where().log.read_text().count(text) >= count):
        assert time.monotonic() < deadline, f"the server never logged {text!r}"
        time.sleep(0.05)


@pytest.mark.parametrize("server_running", [False, True], ids=["server-started-by-it", "call-forwarded"])
def test_ctrl_c_cancels_the_servers_evaluation(
    runtime: Path, tmp_path: Path, run_cli: RunCli, server_running: bool
) -> None:
    if server_running:  # the call below then goes whole, through the thin client
        assert run_cli(*pair("add"), "--device", "cpu", "--json").returncode == 0
    cli = start_cli(*pair("hang"), "--device", "cpu", "--json", tmp_path=tmp_path)
    wait_for_log(": evaluating ")
    time.sleep(1)
    cli.send_signal(signal.SIGINT)
    stdout, stderr = cli.communicate(timeout=60)

    assert cli.returncode == 130, stdout + stderr
    assert json.loads(stdout)["verdict"] == "cancelled"
    assert "interrupted: evaluation cancelled" in stderr
    wait_for_log(": cancelled")
    done = run_cli(*pair("add"), "--device", "cpu", "--json")
    assert done.returncode == 0, "the server serves on after a cancelled evaluation"


def test_a_killed_cli_cancels_the_servers_evaluation(runtime: Path, tmp_path: Path, run_cli: RunCli) -> None:
    assert (
        run_cli(*pair("add"), "--device", "cpu", "--json").returncode == 0
    )  # the call below is forwarded whole
    cli = start_cli(*pair("hang"), "--device", "cpu", "--json", tmp_path=tmp_path)
    wait_for_log(": evaluating ")
    time.sleep(1)
    cli.kill()  # no Cancel sent: the closed connection is the only sign
    cli.communicate(timeout=10)

    wait_for_log(": cancelled")
    done = run_cli(*pair("add"), "--device", "cpu", "--json")
    assert done.returncode == 0, "the hung candidate was stopped and the server serves on"


def test_a_server_lost_mid_evaluation_leaves_the_cli_to_evaluate_itself(
    runtime: Path, tmp_path: Path
) -> None:
    cli = start_cli(
        *pair("hang"), "--device", "cpu", "--json", "--verbose", "--timeout", "2", tmp_path=tmp_path
    )
    wait_for_log(": evaluating ")
    server = servers.server_pid(where().socket)
    assert server is not None
    os.kill(server, signal.SIGTERM)
    stdout, stderr = cli.communicate(timeout=120)

    assert "kernel-eval server lost" in stderr and "evaluating in this process" in stderr
    assert cli.returncode == 2, stdout + stderr
    assert [m["kind"] for m in json.loads(stdout)["messages"] if m["severity"] == "error"] == ["timeout"]
    assert servers.wait_gone(server)


def test_two_cli_calls_at_once_start_one_server(runtime: Path, tmp_path: Path) -> None:
    argv = [sys.executable, str(REPO / "scripts" / "run_and_check.py"), *map(str, pair("add"))]
    argv += ["--device", "cpu", "--json", "--build_dir_prefix", str(tmp_path / "build")]
    calls = [
        subprocess.Popen(argv, cwd=REPO, env=servers.cli_env(), stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [call.communicate(timeout=300)[0] for call in calls]

    assert [call.returncode for call in calls] == [0, 0]
    assert all(json.loads(out)["verdict"] == "correct" for out in outputs)
    assert len(list(where().folder.glob("*.sock"))) == 1
    assert where().log.read_text().count("serving on") == 1


def test_no_server_flag_and_env_start_none(
    run_cli: RunCli, runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flagged = run_cli(*pair("add"), "--device", "cpu", "--json", "--no-server")
    monkeypatch.setenv("KERNEL_EVAL_NO_SERVER", "1")
    by_env = run_cli(*pair("add"), "--device", "cpu", "--json")

    assert flagged.returncode == by_env.returncode == 0
    assert not list(runtime.rglob("*.sock"))


def test_idle_server_stops_removes_its_socket_and_leaves_no_workers(runtime: Path, run_cli: RunCli) -> None:
    server = serve("--idle_s", "2")
    done = run_cli(*pair("add"), "--device", "cpu", "--json")
    assert done.returncode == 0, done.stderr
    workers = children(server.pid)
    assert workers, "the evaluation left warm workers"

    stdout, stderr = server.communicate(timeout=60)

    assert server.returncode == 0, stderr
    assert stdout == "", "the server never writes to stdout"
    assert "idle for 2 s: stopping" in stderr
    assert not where().socket.exists()
    assert not [pid for pid in workers if servers.alive(pid)], "workers outlived their server"


def test_sigterm_stops_the_server_and_removes_its_socket(runtime: Path) -> None:
    server = serve()
    server.send_signal(signal.SIGTERM)
    _, stderr = server.communicate(timeout=30)

    assert server.returncode == 0, stderr
    assert not where().socket.exists()


def test_a_stale_socket_is_replaced_by_a_fresh_server(run_cli: RunCli, runtime: Path) -> None:
    dead = serve()
    dead.kill()
    dead.wait()
    assert where().socket.exists()

    done = run_cli(*pair("add"), "--device", "cpu", "--json", "--verbose")

    assert done.returncode == 0, done.stderr
    pid = servers.server_pid(where().socket)
    assert pid is not None and pid != dead.pid
    assert f"evaluating on the kernel-eval server (pid {pid}," in done.stderr


def test_an_unsafe_folder_is_refused_and_the_cli_evaluates_itself(run_cli: RunCli, runtime: Path) -> None:
    (runtime / address.FOLDER_NAME).mkdir(mode=0o755)
    os.chmod(runtime / address.FOLDER_NAME, 0o755)

    done = run_cli(*pair("add"), "--device", "cpu", "--json", "--verbose")

    assert done.returncode == 0, done.stderr
    assert result_of(done).verdict is Verdict.CORRECT
    assert "has mode 0755: others may enter it" in done.stderr
    assert "evaluating in this process" in done.stderr
    assert not list(runtime.rglob("*.sock"))


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to chown a folder to another user and become one")
def test_a_folder_of_another_user_is_refused(runtime: Path) -> None:
    folder = runtime / address.FOLDER_NAME
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)

    with pytest.raises(address.AddressProblem, match=f"belongs to uid {NOBODY}"):
        address.address(servers.cli_env())


def as_nobody(sock: Path) -> str:
    """What another user gets from `sock`: "denied" (cannot reach it), "dropped" (closed unanswered), "served"."""
    child = os.fork()
    if child == 0:
        outcome = 3
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(10)
            try:
                probe.connect(str(sock))
            except PermissionError:
                outcome = 0
            else:
                try:
                    outcome = 2 if probe.recv(1024) else 1
                except ConnectionResetError:
                    outcome = 1
        finally:
            os._exit(outcome)
    _, status = os.waitpid(child, 0)
    return {0: "denied", 1: "dropped", 2: "served"}.get(os.waitstatus_to_exitcode(status), "failed")


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to become another user")
def test_another_user_is_refused(runtime: Path) -> None:
    server = serve()
    sock = where().socket
    assert as_nobody(sock) == "denied", "the 0700 folder keeps other users away from the socket"

    os.chmod(runtime, 0o711)
    os.chmod(sock.parent, 0o711)
    os.chmod(sock, 0o666)
    assert as_nobody(sock) == "dropped", "past the file modes, the server drops a peer of another uid"
    server.send_signal(signal.SIGTERM)
    _, stderr = server.communicate(timeout=30)
    assert f"dropped a connection from uid {NOBODY}" in stderr


HEAVY = ("rich", "simple_parsing", "attrs", "cattrs", "torch", "kernel_eval.cli", "kernel_eval.result")


def run_thin(*args: str | Path, cwd: Path = REPO, env: dict[str, str] | None = None) -> tuple[
    subprocess.CompletedProcess[str], list[str]
]:  # fmt: skip
    """The CLI's entry point run in `cwd`, and which of HEAVY it imported."""
    probe = (
        "import json, sys; from kernel_eval.launch import main; code = main(sys.argv[1:]); "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr); sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *map(str, args)],
        cwd=cwd,
        env=env or servers.cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    *printed, imported = done.stderr.splitlines()
    done.stderr = "\n".join(printed) + ("\n" if printed else "")
    return done, json.loads(imported)


def test_a_call_a_warm_server_answers_loads_only_the_standard_library_and_prints_the_same(
    run_cli: RunCli, runtime: Path, tmp_path: Path
) -> None:
    build = ("--build_dir_prefix", tmp_path / "build")
    assert run_cli(*pair("add"), "--device", "cpu", *build).returncode == 0  # starts the server
    for case, code in (("add", 0), ("wrong_shape", 1)):
        served, imported = run_thin(*pair(case), "--device", "cpu", *build)
        here = run_cli(*pair(case), "--device", "cpu", *build, "--no-server")
        assert imported == [], "a forwarded call imports none of the CLI's libraries"
        assert (served.returncode, served.stdout, served.stderr) == (code, here.stdout, here.stderr)
    as_json, imported = run_thin(*pair("wrong_shape"), "--device", "cpu", "--json", *build)
    assert imported == []
    assert judged(result_of(as_json)) == judged(
        result_of(run_cli(*pair("wrong_shape"), "--device", "cpu", "--json"))
    )
    assert where().log.read_text().count("evaluating") >= 4


def test_a_forwarded_call_means_its_paths_history_and_reference_from_where_it_was_made(
    runtime: Path, tmp_path: Path
) -> None:
    ref, custom = cpu_case("add")
    data = tmp_path / "data"
    env = {**servers.cli_env(), "XDG_DATA_HOME": str(data)}  # a history of this test's own
    args = ("--custom_src", custom.name, "--device", "cpu", "--json", "--build_dir_prefix", "builds")
    first, imported = run_thin(*args, cwd=custom.parent, env=env)  # starts the server (in the CLI)
    assert first.returncode == 0 and "kernel_eval.cli" in imported, first.stderr
    served, imported = run_thin(*args, cwd=custom.parent, env=env)  # the reference found by its name

    assert imported == [] and served.returncode == 0, served.stderr
    result = result_of(served)
    assert (result.custom.file, result.ref.file) == (str(custom), str(ref))
    assert (custom.parent / "builds").is_dir()
    shutil.rmtree(custom.parent / "builds")
    with sqlite3.connect(data / "kernel-eval" / "history.sqlite") as db:
        rows = db.execute("SELECT origin, custom_file, result_json FROM evaluations").fetchall()
    assert [(origin, file) for origin, file, _ in rows] == [("cli", str(custom))] * 2
    assert json.loads(rows[1][2]) == json.loads(served.stdout)


def test_a_call_the_cli_must_answer_itself_is_left_to_it(
    run_cli: RunCli, runtime: Path, tmp_path: Path
) -> None:
    assert run_cli(*pair("add"), "--device", "cpu").returncode == 0
    for args in (("--custom_src", "missing.py"), (*pair("add"), "--device", "cpu", "--verbose")):
        served, imported = run_thin(*args)
        here = run_cli(*args, "--no-server")
        assert "kernel_eval.cli" in imported
        assert served.returncode == here.returncode
        assert served.stdout.splitlines()[:1] == here.stdout.splitlines()[:1]  # timings differ
    assert served.stderr.count("evaluating on the kernel-eval server") == 1  # --verbose: the CLI's own words
    assert "a call left to the CLI (refused before evaluating)" in where().log.read_text()
