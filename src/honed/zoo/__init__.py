"""Small reference models for checking the harness itself; no download needed.

``sleeper`` takes a known time per call, so a measurement of it must report that time:
it is the calibration check for the timing path (tests and ``examples/sleeper.toml``).
"""

from __future__ import annotations

import os
import time

import torch


class Sleeper(torch.nn.Module):
    """Sleeps ``milliseconds`` per call and returns its input doubled."""

    def __init__(self, milliseconds: float = 10.0):
        super().__init__()
        self.milliseconds = milliseconds
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.milliseconds / 1e3)
        return x * self.scale


class Stall(torch.nn.Module):
    """Doubles its input at once, except an item holding ``trigger``: then the call sleeps
    ``seconds`` first (a model call that hangs, for a server's watchdog)."""

    def __init__(self, seconds: float = 3.0, trigger: float = 999.0):
        super().__init__()
        self.seconds, self.trigger = seconds, trigger
        self.scale = torch.nn.Parameter(torch.tensor(2.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x == self.trigger).any()):
            time.sleep(self.seconds)
        return x * self.scale


class CrashAt(torch.nn.Module):
    """Kills its own process (no Python exception, as a segfault would) at one batch size."""

    def __init__(self, batch_size: int = 2):
        super().__init__()
        self.batch_size = batch_size
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] == self.batch_size:
            os._exit(139)
        return self.linear(x)


def sleeper(milliseconds: float = 10.0) -> Sleeper:
    return Sleeper(milliseconds)


def stall(seconds: float = 3.0, trigger: float = 999.0) -> Stall:
    return Stall(seconds, trigger)


def crash_at(batch_size: int = 2) -> CrashAt:
    return CrashAt(batch_size)


def mlp(features: int = 256, hidden: int = 1024, layers: int = 3) -> torch.nn.Sequential:
    blocks: list[torch.nn.Module] = []
    width = features
    for _ in range(layers):
        blocks += [torch.nn.Linear(width, hidden), torch.nn.GELU()]
        width = hidden
    blocks.append(torch.nn.Linear(width, features))
    return torch.nn.Sequential(*blocks)


def cnn(classes: int = 10, width: int = 16, in_channels: int = 3) -> torch.nn.Sequential:
    """A small image classifier (conv-BN-ReLU blocks, pooling, a linear head) for images of 8x8 pixels or more."""

    def block(cin: int, cout: int) -> list[torch.nn.Module]:
        return [torch.nn.Conv2d(cin, cout, 3, padding=1, bias=False), torch.nn.BatchNorm2d(cout), torch.nn.ReLU()]

    return torch.nn.Sequential(
        *block(in_channels, width),
        torch.nn.MaxPool2d(2),
        *block(width, 2 * width),
        torch.nn.MaxPool2d(2),
        *block(2 * width, 4 * width),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * width, 4 * width),
        torch.nn.ReLU(),
        torch.nn.Linear(4 * width, classes),
    )


def segnet(classes: int = 3, width: int = 16) -> torch.nn.Sequential:
    """A small encoder-decoder for semantic segmentation: logits at the input's resolution."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, width, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(width, 2 * width, 3, padding=1, stride=2),
        torch.nn.ReLU(),
        torch.nn.Conv2d(2 * width, 2 * width, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        torch.nn.Conv2d(2 * width, width, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(width, classes, 1),
    )


class Painter(torch.nn.Module):
    """A tiny generator: noise (3 x 8 x 8) to an RGB image (3 x 32 x 32) in [0, 1]. Two seeds give
    visibly different pictures: what a human-preference arena of image outputs needs to test on."""

    def __init__(self, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.nn.Parameter(torch.randn(3, 3, 5, 5, generator=generator))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        upsampled = torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        return torch.sigmoid(torch.nn.functional.conv2d(upsampled, self.weight, padding=2))


def painter(seed: int = 0) -> Painter:
    return Painter(seed)


from honed.zoo.ddrnet import ddrnet_23 as ddrnet_23  # noqa: E402  (a factory of honed's own zoo: trusted by module name)
