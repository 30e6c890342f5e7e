"""An example team's code submission: a wider ConvNet with batchnorm and its own
training loop (SGD with momentum and a cosine schedule), within the budget it is given."""

import time

import torch
from torch import nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.2), nn.Linear(64 * 2 * 2, 10),
    )


def train(model, loaders, budget):
    device = budget["device"]
    epochs = budget["epochs"]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    start = time.monotonic()
    for _ in range(epochs):
        model.train()
        for x, y in loaders["train"]:
            opt.zero_grad()
            loss_fn(model(x.to(device)), y.to(device)).backward()
            opt.step()
        schedule.step()
        if time.monotonic() - start > budget["seconds"] * 0.9:
            break
