"""DDRNet-23 (Hong et al. 2021, "Deep Dual-resolution Networks for Real-time and Accurate Semantic
Segmentation of Road Scenes"), as the authors' Cityscapes model (github.com/ydhongHIT/DDRNet,
``DualResNet(BasicBlock, [2, 2, 2, 2], planes=64, spp_planes=128, head_planes=128)``): a
low-resolution context branch and a high-resolution detail branch exchanging features twice,
a deep aggregation pyramid pooling module (DAPPM) on the context branch, and a head whose logits
come at 1/8 of the input's height and width (the evaluation upsamples them). 20.1 M parameters
with 19 classes. Module names follow the authors' code, so their checkpoints load with
``load_state_dict`` after dropping the auxiliary head (``seghead_extra``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BN_MOMENTUM = 0.1


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, momentum=BN_MOMENTUM)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, no_relu: bool = False
    ):
        super().__init__()
        self.conv1, self.bn1 = _conv3x3(inplanes, planes, stride), _bn(planes)
        self.conv2, self.bn2 = _conv3x3(planes, planes), _bn(planes)
        self.relu, self.downsample, self.no_relu = nn.ReLU(), downsample, no_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + (x if self.downsample is None else self.downsample(x))
        return out if self.no_relu else self.relu(out)


class Bottleneck(nn.Module):
    expansion = 2

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None, no_relu: bool = True
    ):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(inplanes, planes, 1, bias=False), _bn(planes)
        self.conv2, self.bn2 = _conv3x3(planes, planes, stride), _bn(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = _bn(planes * self.expansion)
        self.relu, self.downsample, self.no_relu = nn.ReLU(), downsample, no_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + (x if self.downsample is None else self.downsample(x))
        return out if self.no_relu else self.relu(out)


def _pooled_branch(pool: nn.Module, inplanes: int, planes: int) -> nn.Sequential:
    return nn.Sequential(pool, _bn(inplanes), nn.ReLU(), nn.Conv2d(inplanes, planes, 1, bias=False))


def _process(planes: int) -> nn.Sequential:
    return nn.Sequential(_bn(planes), nn.ReLU(), nn.Conv2d(planes, planes, 3, padding=1, bias=False))


class DAPPM(nn.Module):
    """Deep aggregation pyramid pooling: average pools at 1/2, 1/4, 1/8 and global scale, each
    upsampled and added to the previous scale's output before its own 3x3 conv."""

    def __init__(self, inplanes: int, branch_planes: int, outplanes: int):
        super().__init__()
        self.scale1 = _pooled_branch(nn.AvgPool2d(5, stride=2, padding=2), inplanes, branch_planes)
        self.scale2 = _pooled_branch(nn.AvgPool2d(9, stride=4, padding=4), inplanes, branch_planes)
        self.scale3 = _pooled_branch(nn.AvgPool2d(17, stride=8, padding=8), inplanes, branch_planes)
        self.scale4 = _pooled_branch(nn.AdaptiveAvgPool2d((1, 1)), inplanes, branch_planes)
        self.scale0 = nn.Sequential(_bn(inplanes), nn.ReLU(), nn.Conv2d(inplanes, branch_planes, 1, bias=False))
        self.process1, self.process2 = _process(branch_planes), _process(branch_planes)
        self.process3, self.process4 = _process(branch_planes), _process(branch_planes)
        self.compression = nn.Sequential(
            _bn(branch_planes * 5), nn.ReLU(), nn.Conv2d(branch_planes * 5, outplanes, 1, bias=False)
        )
        self.shortcut = nn.Sequential(_bn(inplanes), nn.ReLU(), nn.Conv2d(inplanes, outplanes, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        levels = [self.scale0(x)]
        scales = (self.scale1, self.scale2, self.scale3, self.scale4)
        processes = (self.process1, self.process2, self.process3, self.process4)
        for scale, process in zip(scales, processes):
            levels.append(process(F.interpolate(scale(x), size=size, mode="bilinear") + levels[-1]))
        return self.compression(torch.cat(levels, 1)) + self.shortcut(x)


class SegmentHead(nn.Module):
    def __init__(self, inplanes: int, interplanes: int, classes: int):
        super().__init__()
        self.bn1, self.conv1 = _bn(inplanes), nn.Conv2d(inplanes, interplanes, 3, padding=1, bias=False)
        self.bn2, self.conv2 = _bn(interplanes), nn.Conv2d(interplanes, classes, 1, bias=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.relu(self.bn2(self.conv1(self.relu(self.bn1(x))))))


def _layer(
    block: type[BasicBlock] | type[Bottleneck], inplanes: int, planes: int, blocks: int, stride: int = 1
) -> nn.Sequential:
    """Blocks of one stage; the last of several ends without ReLU (the branches add first)."""
    downsample = None
    if stride != 1 or inplanes != planes * block.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * block.expansion, 1, stride=stride, bias=False), _bn(planes * block.expansion)
        )
    layers = [block(inplanes, planes, stride, downsample)]
    for i in range(1, blocks):
        layers.append(block(planes * block.expansion, planes, 1, no_relu=i == blocks - 1))
    return nn.Sequential(*layers)


class DualResNet(nn.Module):
    def __init__(
        self,
        layers: tuple[int, ...] = (2, 2, 2, 2),
        classes: int = 19,
        planes: int = 64,
        spp_planes: int = 128,
        head_planes: int = 128,
    ):
        super().__init__()
        high = planes * 2
        self.conv1 = nn.Sequential(
            _conv3x3(3, planes, 2), _bn(planes), nn.ReLU(), _conv3x3(planes, planes, 2), _bn(planes), nn.ReLU()
        )
        self.relu = nn.ReLU()
        self.layer1 = _layer(BasicBlock, planes, planes, layers[0])
        self.layer2 = _layer(BasicBlock, planes, planes * 2, layers[1], stride=2)
        self.layer3 = _layer(BasicBlock, planes * 2, planes * 4, layers[2], stride=2)
        self.layer4 = _layer(BasicBlock, planes * 4, planes * 8, layers[3], stride=2)
        self.compression3 = nn.Sequential(nn.Conv2d(planes * 4, high, 1, bias=False), _bn(high))
        self.compression4 = nn.Sequential(nn.Conv2d(planes * 8, high, 1, bias=False), _bn(high))
        self.down3 = nn.Sequential(nn.Conv2d(high, planes * 4, 3, stride=2, padding=1, bias=False), _bn(planes * 4))
        self.down4 = nn.Sequential(
            nn.Conv2d(high, planes * 4, 3, stride=2, padding=1, bias=False),
            _bn(planes * 4),
            nn.ReLU(),
            nn.Conv2d(planes * 4, planes * 8, 3, stride=2, padding=1, bias=False),
            _bn(planes * 8),
        )
        self.layer3_ = _layer(BasicBlock, planes * 2, high, 2)
        self.layer4_ = _layer(BasicBlock, high, high, 2)
        self.layer5_ = _layer(Bottleneck, high, high, 1)
        self.layer5 = _layer(Bottleneck, planes * 8, planes * 8, 1, stride=2)
        self.spp = DAPPM(planes * 16, spp_planes, planes * 4)
        self.final_layer = SegmentHead(planes * 4, head_planes, classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = (x.shape[-2] // 8, x.shape[-1] // 8)
        x = self.layer1(self.conv1(x))
        low2 = self.layer2(self.relu(x))
        low3 = self.layer3(self.relu(low2))
        high = self.layer3_(self.relu(low2))
        low = low3 + self.down3(self.relu(high))
        high = high + F.interpolate(self.compression3(self.relu(low3)), size=size, mode="bilinear")
        low4 = self.layer4(self.relu(low))
        high = self.layer4_(self.relu(high))
        low = low4 + self.down4(self.relu(high))
        high = high + F.interpolate(self.compression4(self.relu(low4)), size=size, mode="bilinear")
        high = self.layer5_(self.relu(high))
        context = F.interpolate(self.spp(self.layer5(self.relu(low))), size=size, mode="bilinear")
        return self.final_layer(context + high)


def ddrnet_23(classes: int = 19, planes: int = 64) -> DualResNet:
    """DDRNet-23 (``planes`` 64); ``planes=32`` is the paper's DDRNet-23-slim (its pyramid keeps
    128 channels, its head 64)."""
    return DualResNet((2, 2, 2, 2), classes=classes, planes=planes, spp_planes=128, head_planes=planes * 2)
