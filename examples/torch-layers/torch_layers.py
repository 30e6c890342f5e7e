"""An example student solution to torch-layers: unfold + matmul, strided views, matmul."""

import torch
from torch import nn


class Conv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0):
        super().__init__()
        self.stride, self.padding, self.k = stride, padding, kernel_size
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x):
        n, _, h, w = x.shape
        cols = torch.nn.functional.unfold(x, self.k, padding=self.padding, stride=self.stride)
        out = self.weight.reshape(self.weight.shape[0], -1) @ cols + self.bias[:, None]
        ho = (h + 2 * self.padding - self.k) // self.stride + 1
        wo = (w + 2 * self.padding - self.k) // self.stride + 1
        return out.reshape(n, -1, ho, wo)


class MaxPool2d(nn.Module):
    def __init__(self, kernel_size, stride=None):
        super().__init__()
        self.k, self.s = kernel_size, stride or kernel_size

    def forward(self, x):
        windows = x.unfold(2, self.k, self.s).unfold(3, self.k, self.s)
        return windows.reshape(*windows.shape[:4], -1).max(dim=-1).values


class Linear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * 0.1)
        self.bias = nn.Parameter(torch.zeros(out_features))

    def forward(self, x):
        return x @ self.weight.T + self.bias
