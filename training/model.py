"""The descriptor network: a small ResNet, GeM pooling, a 256-d L2-normalised output.

The recipe is Meta's SSCD (Pizzi et al., "A Self-Supervised Descriptor for
Image Copy Detection", CVPR 2022) at a size that runs on one CPU core: about
2.8 million parameters and 0.2 GMAC per 160 x 160 image. Basic residual blocks
(two 3 x 3 convolutions), batch norm folded into the convolutions on export,
generalised-mean pooling (p = 3) which weights the strongest responses (a copy's
surviving part) more than average pooling does, then a linear projection and
L2 normalisation: the inner product of two descriptors is their cosine
similarity.

The input is what workers/engine/descriptor.py prepares: RGB, 160 x 160,
scaled to [0, 1] and normalised by MEAN and STD below. Those constants are
written into the exported model's metadata, and the runtime reads them from
there, so the two cannot drift apart.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

INPUT_SIZE = 160
DIM = 256
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
# Channels per stage after the stem (40, 20, 10 and 5 px at a 160 px input).
WIDTHS = (32, 64, 128, 256)
BLOCKS = (1, 2, 2, 2)


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.short is None else self.short(x)))


class GeM(nn.Module):
    """Generalised-mean pooling with a fixed exponent (SSCD uses p = 3)."""

    def __init__(self, p: float = 3.0, eps: float = 1e-6) -> None:
        super().__init__()
        self.p = p
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.clamp(min=self.eps).pow(self.p)
        return x.mean(dim=(2, 3)).pow(1.0 / self.p)


class DescriptorNet(nn.Module):
    def __init__(self, dim: int = DIM) -> None:
        super().__init__()
        w = WIDTHS
        self.stem = nn.Sequential(
            nn.Conv2d(3, 24, 3, 2, 1, bias=False),
            nn.BatchNorm2d(24),
            nn.ReLU(inplace=True),
            nn.Conv2d(24, w[0], 3, 2, 1, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        cin = w[0]
        for stage, (cout, blocks) in enumerate(zip(w, BLOCKS, strict=True)):
            for b in range(blocks):
                stride = 2 if (b == 0 and stage > 0) else 1
                layers.append(Block(cin, cout, stride))
                cin = cout
        self.body = nn.Sequential(*layers)
        self.pool = GeM()
        self.head = nn.Linear(cin, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.body(self.stem(x)))
        return F.normalize(self.head(x), dim=1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
