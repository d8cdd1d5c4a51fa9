import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

conv2d_ext_source = """
#include <torch/extension.h>
#include <cuda_runtime.h>

__global__ void conv2d_kernel(const float* x, const float* w, float* y, int N, int C, int H, int W,
                              int K, int R, int S, int OH, int OW) {
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    int total = N * K * OH * OW;
    if (idx >= total) return;
    int ow = idx % OW;
    int oh = (idx / OW) % OH;
    int k = (idx / (OW * OH)) % K;
    int n = idx / (OW * OH * K);
    float acc = 0.f;
    for (int c = 0; c < C; ++c)
        for (int r = 0; r < R; ++r)
            for (int s = 0; s < S; ++s)
                acc += x[((n * C + c) * H + oh + r) * W + ow + s] * w[((k * C + c) * R + r) * S + s];
    y[idx] = acc;
}

torch::Tensor conv2d_cuda(torch::Tensor x, torch::Tensor w) {
    auto xc = x.contiguous();
    auto wc = w.contiguous();
    int N = xc.size(0), C = xc.size(1), H = xc.size(2), W = xc.size(3);
    int K = wc.size(0), R = wc.size(2), S = wc.size(3);
    int OH = H - R + 1, OW = W - S + 1;
    auto y = torch::empty({N, K, OH, OW}, xc.options());
    int total = N * K * OH * OW;
    conv2d_kernel<<<(total + 255) / 256, 256>>>(xc.data_ptr<float>(), wc.data_ptr<float>(), y.data_ptr<float>(),
                                                N, C, H, W, K, R, S, OH, OW);
    return y;
}
"""

conv2d_ext_cpp_source = "torch::Tensor conv2d_cuda(torch::Tensor x, torch::Tensor w);"

conv2d_ext = load_inline(
    name="conv2d_ext",
    cpp_sources=conv2d_ext_cpp_source,
    cuda_sources=conv2d_ext_source,
    functions=['conv2d_cuda'],
    verbose=False,
    extra_cflags=["-O3"],
    extra_cuda_cflags=["-O3"],
)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(32, 16, 3, 3) * 0.1)
        self.ext = conv2d_ext

    def forward(self, x):
        return self.ext.conv2d_cuda(x, self.weight)
