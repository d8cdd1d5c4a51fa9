"""Past one machine: one Ray actor per GPU holding a warm WorkerPool, builds as Ray CPU tasks.

Sources travel with each call (a node need not share the driver's filesystem): they are written to a node-local,
content-addressed folder, so a build task and an actor on the same node use the same path and hence the same build
cache entry. Paths in the results are mapped back to the driver's files. Ray is optional: this module imports it
only when a batch asks for --ray.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import attrs

import kernel_eval
from kernel_eval.batch.lanes import LaneResult, evaluate_on, failed, spares_for
from kernel_eval.engine.builds import gpu_arch, prebuild
from kernel_eval.engine.pool import WorkerPool
from kernel_eval.kinds import MessageKind
from kernel_eval.request import EvalRequest
from kernel_eval.result import EvalResult, to_data

ACTOR_RESTARTS = 3


@attrs.define
class Shipped:
    """A pair's two files by value, and where they are written on a node."""

    ref_name: str
    ref_text: str
    custom_name: str
    custom_text: str

    @classmethod
    def of(cls, request: EvalRequest) -> Shipped:
        ref, custom = Path(request.ref_src), Path(request.custom_src)
        return cls(ref.name, ref.read_text(), custom.name, custom.read_text())

    def folder(self) -> Path:
        digest = hashlib.sha256(json.dumps(attrs.astuple(self)).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"kernel-eval-ray-{os.getuid()}" / digest

    def request_here(self, request: dict[str, Any]) -> EvalRequest:
        """The request (as data) with its two files written on this node and its paths pointing at them."""
        ref, custom = self.write()
        return attrs.evolve(EvalRequest(**request), ref_src=str(ref), custom_src=str(custom))

    def write(self) -> tuple[Path, Path]:
        """(reference, custom) written under folder() on this node."""
        folder = self.folder()
        ref, custom = folder / "ref" / self.ref_name, folder / "custom" / self.custom_name
        for path, text in ((ref, self.ref_text), (custom, self.custom_text)):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
        return ref, custom


class PoolActor:
    """Holds a warm WorkerPool on the GPU Ray gave this actor (or the CPU)."""

    def __init__(self, use_gpu: bool) -> None:
        import ray

        self.device = "cpu"
        if use_gpu:
            # Ray narrowed CUDA_VISIBLE_DEVICES to our GPU. The pool narrows it itself from the physical index.
            self.device = f"cuda:{ray.get_gpu_ids()[0]}"
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        self.pool = WorkerPool(spares=spares_for(self.device, _gpus_on_this_node() if use_gpu else 1))
        self.pool.warm_up(self.device)

    def describe(self) -> dict[str, str]:
        import ray

        return {
            "device": self.device,
            "node": ray.get_runtime_context().get_node_id(),
            "address": ray.util.get_node_ip_address(),
            "arch": gpu_arch(self.device),
        }

    def evaluate(self, shipped: Shipped, request: dict[str, Any], pair_timeout_s: float) -> dict[str, Any]:
        here = attrs.evolve(shipped.request_here(request), device=self.device)
        done = evaluate_on(self.pool, here, pair_timeout_s)
        ref, custom = Path(here.ref_src), Path(here.custom_src)
        return {
            "result": done.result.to_dict(),
            "build_s": done.build_s,
            "wall_s": done.wall_s,
            "paths": {str(ref.parent): request["ref_src"], str(custom.parent): request["custom_src"]},
        }


def prebuild_task(shipped: Shipped, request: dict[str, Any], arch: str, timeout_s: float) -> float | None:
    """A Ray CPU task: build the pair's custom file for `arch` into this node's cache."""
    return prebuild(shipped.request_here(request), timeout_s, arch)


class RayLane:
    """A lane backed by a PoolActor somewhere in the cluster."""

    def __init__(self, actor: Any, name: str, node: str) -> None:
        self.actor = actor
        self.name = name
        self.node = node

    def evaluate(self, request: EvalRequest, pair_timeout_s: float) -> LaneResult:
        import ray

        try:
            reply = ray.get(self.actor.evaluate.remote(Shipped.of(request), to_data(request), pair_timeout_s))
        except ray.exceptions.RayError as exc:
            return LaneResult(
                failed(request, MessageKind.BATCH_ERROR, f"the Ray actor failed: {exc}"), 0.0, 0.0
            )
        text = json.dumps(reply["result"])
        for remote, original in reply["paths"].items():
            text = text.replace(
                json.dumps(remote)[1:-1] + "/", json.dumps(str(Path(original).parent))[1:-1] + "/"
            )
        return LaneResult(EvalResult.from_dict(json.loads(text)), reply["build_s"], reply["wall_s"])

    def close(self) -> None:
        import ray

        ray.kill(self.actor)


@attrs.define
class RayCluster:
    """The lanes, and build tasks spread over the lanes' nodes (each pair's build stays on its home node, whose
    lanes take it first, so the cache hit is local even without a shared build folder)."""

    lanes: list[RayLane]
    arch: str
    homes: dict[str, str] = attrs.Factory(dict)
    """The node id each pair's build ran on, by pair name."""
    _next_node: int = 0

    def home(self, name: str) -> str:
        return self.homes.get(name, "")

    def prebuild(self, name: str, request: EvalRequest, timeout_s: float) -> float | None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        nodes = sorted({lane.node for lane in self.lanes})
        node = nodes[self._next_node % len(nodes)]
        self._next_node += 1
        self.homes[name] = node
        task = _remote_prebuild().options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True))
        try:
            seconds: float | None = ray.get(
                task.remote(Shipped.of(request), to_data(request), self.arch, timeout_s)
            )
        except ray.exceptions.RayError:
            return None
        return seconds


def _remote_prebuild() -> Any:
    import ray

    global _PREBUILD_TASK
    if _PREBUILD_TASK is None:
        _PREBUILD_TASK = ray.remote(num_cpus=1)(prebuild_task)
    return _PREBUILD_TASK


_PREBUILD_TASK: Any = None


def start(address: str, cpu_lanes: int, num_cpus: int | None = None) -> RayCluster:
    """Connect to Ray (`auto`: a running cluster or a new local one; else its address) and start one actor per GPU
    in the cluster (none: `cpu_lanes` CPU actors)."""
    import ray

    if not ray.is_initialized():
        package = str(Path(kernel_eval.__file__).resolve().parent)
        ray.init(
            address=None if address == "auto" else address,
            num_cpus=num_cpus,
            runtime_env={"py_modules": [package]},
            log_to_driver=False,
        )
    gpus = int(ray.cluster_resources().get("GPU", 0))
    use_gpu = gpus > 0
    actor_class = ray.remote(
        num_gpus=1 if use_gpu else 0, num_cpus=0 if use_gpu else 1, max_restarts=ACTOR_RESTARTS
    )(PoolActor)
    actors: list[Any] = [actor_class.remote(use_gpu) for _ in range(gpus if use_gpu else max(1, cpu_lanes))]
    described = ray.get([actor.describe.remote() for actor in actors])
    lanes = [
        RayLane(actor, f"{d['address']}/{d['device']}", d["node"])
        for actor, d in zip(actors, described, strict=True)
    ]
    return RayCluster(lanes, described[0]["arch"])


def _gpus_on_this_node() -> int:
    """How many GPU lanes share this node's cores (one actor per GPU)."""
    import ray

    here = ray.get_runtime_context().get_node_id()
    return next((int(n["Resources"].get("GPU", 1)) for n in ray.nodes() if n["NodeID"] == here), 1)
