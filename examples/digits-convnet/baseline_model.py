"""The course baseline for digits-convnet: two conv-ReLU-pool blocks and a linear head.
Trained by the grader's default loop (Adam, cross-entropy) within the budget."""

import torch
from torch import nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 8x4x4
        nn.Conv2d(8, 16, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 16x2x2
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10),
    )


_ = torch  # the sandbox's torch, pinned by the image
