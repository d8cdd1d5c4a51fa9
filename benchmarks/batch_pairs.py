"""Generates small KernelBench-style pairs (`<name>/ref.py` + `<name>/custom.py`) for the batch benchmark:
elementwise, row reductions and matmuls, as Triton kernels and as plain PyTorch, plus optional load_inline CUDA
pairs (each with its own extension name, so each is a real build)."""

from __future__ import annotations

from pathlib import Path

ELEMENTWISE = 1 << 14
ROWS, COLS = 64, 256
MM = 64

_HEADER = "import torch\nimport torch.nn as nn\n"
_TRITON = _HEADER + "import triton\nimport triton.language as tl\n"

# name: (torch expression of x [and y], Triton expression, binary)
UNARY_BINARY = {
    "relu": ("torch.relu(x)", "tl.maximum(x, 0.0)", False),
    "sigmoid": ("torch.sigmoid(x)", "1.0 / (1.0 + tl.exp(-x))", False),
    "silu": ("x * torch.sigmoid(x)", "x / (1.0 + tl.exp(-x))", False),
    "scale_shift": ("x * 2.0 + 1.0", "x * 2.0 + 1.0", False),
    "square": ("x * x", "x * x", False),
    "abs": ("torch.abs(x)", "tl.abs(x)", False),
    "exp": ("torch.exp(x)", "tl.exp(x)", False),
    "add": ("x + y", "x + y", True),
    "mul": ("x * y", "x * y", True),
    "maximum": ("torch.maximum(x, y)", "tl.maximum(x, y)", True),
}
# name: (torch expression of a (ROWS, COLS) x, Triton expression of a row, keeps the row's shape)
REDUCTIONS = {
    "row_sum": ("x.sum(dim=1)", "tl.sum(x, axis=0)", False),
    "row_max": ("x.amax(dim=1)", "tl.max(x, axis=0)", False),
    "row_mean": ("x.mean(dim=1)", f"tl.sum(x, axis=0) / {COLS}", False),
    "row_softmax": (
        "torch.softmax(x, dim=1)",
        "tl.exp(x - tl.max(x, axis=0)) / tl.sum(tl.exp(x - tl.max(x, axis=0)), axis=0)",
        True,
    ),
}
MATMULS = {"matmul": "acc", "matmul_relu": "tl.maximum(acc, 0.0)"}
TORCH_CUSTOMS = {  # plain PyTorch solutions written differently from their references
    "relu": "torch.clamp(x, min=0.0)",
    "sigmoid": "1.0 / (1.0 + torch.exp(-x))",
    "square": "torch.pow(x, 2)",
    "add": "torch.add(x, y)",
    "row_sum": "torch.einsum('ij->i', x)",
    "matmul": "torch.einsum('ik,kj->ij', a, b)",
}


def _inputs(shapes: list[str]) -> str:
    return f"\n\ndef get_inputs():\n    return [{', '.join(f'torch.randn({s})' for s in shapes)}]\n\n\ndef get_init_inputs():\n    return []\n"


def _model(cls: str, args: str, body: str) -> str:
    return f"\n\nclass {cls}(nn.Module):\n    def forward(self, {args}):\n        return {body}\n"


def elementwise(name: str) -> tuple[str, str]:
    torch_expr, triton_expr, binary = UNARY_BINARY[name]
    args = "x, y" if binary else "x"
    shapes = [str(ELEMENTWISE)] * (2 if binary else 1)
    ref = _HEADER + _model("Model", args, torch_expr) + _inputs(shapes)
    loads = "    x = tl.load(x_ptr + offsets, mask=mask)\n" + (
        "    y = tl.load(y_ptr + offsets, mask=mask)\n" if binary else ""
    )
    custom = (
        _TRITON
        + f"\n\n@triton.jit\ndef kernel(x_ptr, {'y_ptr, ' if binary else ''}out_ptr, n, BLOCK: tl.constexpr):\n"
        "    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)\n"
        "    mask = offsets < n\n"
        f"{loads}"
        f"    tl.store(out_ptr + offsets, {triton_expr}, mask=mask)\n"
        f"\n\nclass ModelNew(nn.Module):\n    def forward(self, {args}):\n"
        "        out = torch.empty_like(x)\n"
        f"        kernel[(triton.cdiv(x.numel(), 4096),)]({args}, out, x.numel(), BLOCK=4096)\n"
        "        return out\n"
    )
    return ref, custom


def reduction(name: str) -> tuple[str, str]:
    torch_expr, triton_expr, keeps_row = REDUCTIONS[name]
    ref = _HEADER + _model("Model", "x", torch_expr) + _inputs([f"{ROWS}, {COLS}"])
    store = (
        "    tl.store(out_ptr + row * n_cols + cols, result)\n"
        if keeps_row
        else "    tl.store(out_ptr + row, result)\n"
    )
    custom = (
        _TRITON + "\n\n@triton.jit\ndef kernel(x_ptr, out_ptr, n_cols, BLOCK: tl.constexpr):\n"
        "    row = tl.program_id(0)\n"
        "    cols = tl.arange(0, BLOCK)\n"
        "    x = tl.load(x_ptr + row * n_cols + cols)\n"
        f"    result = {triton_expr}\n"
        f"{store}"
        "\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n"
        "        x = x.contiguous()\n"
        f"        out = {'torch.empty_like(x)' if keeps_row else 'torch.empty(x.shape[0], device=x.device)'}\n"
        "        kernel[(x.shape[0],)](x, out, x.shape[1], BLOCK=x.shape[1])\n"
        "        return out\n"
    )
    return ref, custom


def matmul(name: str) -> tuple[str, str]:
    epilogue = MATMULS[name]
    torch_expr = "torch.relu(a @ b)" if name == "matmul_relu" else "a @ b"
    ref = _HEADER + _model("Model", "a, b", torch_expr) + _inputs([f"{MM}, {MM}", f"{MM}, {MM}"])
    custom = (
        _TRITON + "\n\n@triton.jit\ndef kernel(a_ptr, b_ptr, c_ptr, N: tl.constexpr, BLOCK: tl.constexpr):\n"
        "    pid_m, pid_n = tl.program_id(0), tl.program_id(1)\n"
        "    rm = pid_m * BLOCK + tl.arange(0, BLOCK)\n"
        "    rn = pid_n * BLOCK + tl.arange(0, BLOCK)\n"
        "    acc = tl.zeros((BLOCK, BLOCK), dtype=tl.float32)\n"
        "    for k0 in range(0, N, BLOCK):\n"
        "        rk = k0 + tl.arange(0, BLOCK)\n"
        "        a = tl.load(a_ptr + rm[:, None] * N + rk[None, :])\n"
        "        b = tl.load(b_ptr + rk[:, None] * N + rn[None, :])\n"
        "        acc += tl.dot(a, b, input_precision='ieee')\n"
        f"    tl.store(c_ptr + rm[:, None] * N + rn[None, :], {epilogue})\n"
        "\n\nclass ModelNew(nn.Module):\n    def forward(self, a, b):\n"
        "        a, b = a.contiguous(), b.contiguous()\n"
        "        c = torch.empty_like(a)\n"
        "        kernel[(a.shape[0] // 32, a.shape[0] // 32)](a, b, c, a.shape[0], BLOCK=32)\n"
        "        return c\n"
    )
    return ref, custom


def torch_custom(name: str, ref: str) -> str:
    """The reference with ModelNew computing the same thing a different way in plain PyTorch."""
    args = "a, b" if name in MATMULS else ("x, y" if UNARY_BINARY.get(name, ("", "", False))[2] else "x")
    return ref + _model("ModelNew", args, TORCH_CUSTOMS[name])


def cuda_pair(index: int) -> tuple[str, str]:
    ref = _HEADER + _model("Model", "x, y", "x + y") + _inputs([str(ELEMENTWISE), str(ELEMENTWISE)])
    custom = (
        _HEADER
        + "from torch.utils.cpp_extension import load_inline\n\n"
        + 'CUDA = r"""\n#include <torch/extension.h>\n'
        "__global__ void add_kernel(const float* x, const float* y, float* out, int n) {\n"
        "    int i = blockIdx.x * blockDim.x + threadIdx.x;\n"
        "    if (i < n) out[i] = x[i] + y[i];\n}\n"
        "torch::Tensor add(torch::Tensor x, torch::Tensor y) {\n"
        "    auto out = torch::empty_like(x);\n"
        "    int n = x.numel();\n"
        "    add_kernel<<<(n + 255) / 256, 256>>>(x.data_ptr<float>(), y.data_ptr<float>(), out.data_ptr<float>(), n);\n"
        "    return out;\n}\n"
        '"""\n'
        f'ext = load_inline(name="batch_bench_add_{index}", cpp_sources="torch::Tensor add(torch::Tensor x, torch::Tensor y);",'
        ' cuda_sources=CUDA, functions=["add"])\n'
        + _model("ModelNew", "x, y", "ext.add(x.contiguous(), y.contiguous())")
    )
    return ref, custom


def write_pairs(root: Path, cuda_pairs: int = 0, copies: int = 1) -> list[str]:
    """Write every pair under `root` (`copies` times: `<name>`, `<name>_2`, ...); returns their names."""
    pairs: dict[str, tuple[str, str]] = {}
    for name in UNARY_BINARY:
        pairs[f"triton_{name}"] = elementwise(name)
    for name in REDUCTIONS:
        pairs[f"triton_{name}"] = reduction(name)
    for name in MATMULS:
        pairs[f"triton_{name}"] = matmul(name)
    for name in TORCH_CUSTOMS:
        ref = pairs[f"triton_{name}"][0]
        pairs[f"torch_{name}"] = (ref, torch_custom(name, ref))
    for index in range(cuda_pairs):
        pairs[f"cuda_add_{index}"] = cuda_pair(index)
    names = []
    for copy in range(1, max(1, copies) + 1):
        for name, (ref, custom) in pairs.items():
            folder = root / (name if copy == 1 else f"{name}_{copy}")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "ref.py").write_text(ref)
            (folder / "custom.py").write_text(custom)
            names.append(folder.name)
    return names
