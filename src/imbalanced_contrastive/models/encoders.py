"""Encoders: a small CNN for 28x28 inputs, the CIFAR ResNet-32, torchvision ResNet-18/50.

Every encoder maps images ``[B, C, H, W]`` to features ``[B, feature_dim]`` and exposes
``feature_dim``. The classifier of the second stage (ACL paper) and the projection head read
those features.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

ENCODERS = ("small_cnn", "small_cnn_2x2", "resnet32", "resnet18", "resnet50")


class SmallCNN(nn.Module):
    """Three conv blocks (``width``, 2x and 4x channels; BatchNorm, ReLU) and average pooling to a
    ``pool`` x ``pool`` grid (1: global average pooling).

    Small enough to train on Fashion-MNIST on two CPU cores in a minute. ``pool=2`` (encoder
    ``small_cnn_2x2``) keeps where in the image a feature is (the quadrants), at the same cost.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, pool: int = 1) -> None:
        super().__init__()
        if in_channels < 1 or width < 1 or pool < 1:
            raise ValueError(f"in_channels, width and pool must be >= 1; got {in_channels}, {width}, {pool}")

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
            )

        self.net = nn.Sequential(
            block(in_channels, width),
            nn.MaxPool2d(2),
            block(width, 2 * width),
            nn.MaxPool2d(2),
            block(2 * width, 4 * width),
            nn.AdaptiveAvgPool2d(pool),
            nn.Flatten(),
        )
        self.feature_dim = 4 * width * pool * pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` -> ``[B, feature_dim]``."""
        return self.net(x)


class _BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def shortcut(self, x: torch.Tensor) -> torch.Tensor:
        # "Option A" of He et al. (2016) for CIFAR: subsample and zero-pad channels, no parameters.
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet32(nn.Module):
    """The CIFAR ResNet-32 (He et al. 2016, section 4.2): 3 stages x 5 basic blocks, 16/32/64
    channels, 64-d features; the backbone of BCL, RCL and ResCom on CIFAR-LT."""

    def __init__(self, in_channels: int = 3, blocks_per_stage: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)
        )
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(blocks_per_stage):
                layers.append(_BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.feature_dim = 64
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, 32, 32]`` -> ``[B, 64]``."""
        return F.adaptive_avg_pool2d(self.layers(self.stem(x)), 1).flatten(1)


class TorchvisionResNet(nn.Module):
    """torchvision ResNet-18/50 without its final layer.

    Args:
        depth: 18 or 50.
        in_channels: input channels (a 1-channel stem is built for grayscale data).
        pretrained: load ImageNet weights (the ACL paper's choice). Needs the weights to be
            downloadable or cached; offline this raises a ``RuntimeError`` saying so.
        small_input: replace the 7x7/stride-2 stem and max-pool by a 3x3/stride-1 stem, the usual
            adaptation for 28-32 pixel images.
    """

    def __init__(
        self, depth: int = 18, in_channels: int = 3, pretrained: bool = False, small_input: bool = False
    ) -> None:
        super().__init__()
        import torchvision

        if depth not in (18, 50):
            raise ValueError(f"depth must be 18 or 50; got {depth}")
        builder = torchvision.models.resnet18 if depth == 18 else torchvision.models.resnet50
        weights = None
        if pretrained:
            weights = "IMAGENET1K_V1"
        try:
            net = builder(weights=weights)
        except Exception as err:  # noqa: BLE001 - a failed download surfaces as many exception types
            raise RuntimeError(
                f"could not load ImageNet weights for ResNet-{depth} ({err}); they need internet access "
                "or torch's hub cache. Use pretrained=False to train from random initialisation."
            ) from err
        if small_input:
            net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
            net.maxpool = nn.Identity()
        elif in_channels != 3:
            net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.feature_dim = net.fc.in_features
        net.fc = nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_encoder(
    name: str, in_channels: int, pretrained: bool = False, small_input: bool = True, width: int = 32
) -> nn.Module:
    """Build an encoder by name (one of :data:`ENCODERS`); ``width`` applies to the small CNNs.

    The convolution weights are stored channels-last (NHWC), so the convolutions run in that layout:
    measured 1.5x faster training of ``small_cnn`` on two CPU cores (oneDNN; median of interleaved
    repeats, ``benchmarks/README.md``), and the layout tensor cores prefer on GPUs. Inputs need no
    conversion (a channels-last weight makes the convolution's output channels-last).
    """
    if name in ("small_cnn", "small_cnn_2x2"):
        encoder: nn.Module = SmallCNN(in_channels, width, pool=2 if name == "small_cnn_2x2" else 1)
    elif name == "resnet32":
        encoder = ResNet32(in_channels)
    elif name in ("resnet18", "resnet50"):
        encoder = TorchvisionResNet(int(name[6:]), in_channels, pretrained=pretrained, small_input=small_input)
    else:
        raise ValueError(f"encoder must be one of {ENCODERS}; got {name!r}")
    return encoder.to(memory_format=torch.channels_last)
