"""The project's architectures, exactly as DESIGN.md section 4 states them.

state_dict() keys are the DESIGN names. Normalisation is not part of the modules: call
normalize(x, mean, std) on pixel tensors in [0, 1] first.

Every class has forward_taps(x) -> (logits, OrderedDict[tap name, tensor]) returning the module
outputs at the declared taps (no flattening), plus the declarative CLP_PAIRS and HEAD.
"""

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


def normalize(x, mean, std):
    """(x - mean[c]) / std[c] over the channel axis of [N, C, H, W] or [C, H, W] pixel tensors."""
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    shape = [-1, 1, 1]
    return (x - mean.reshape(shape)) / std.reshape(shape)


# ---------------------------------------------------------------------------------------------
# cnn-small


class CnnSmall(nn.Module):
    TAPS = ("features.2", "features.5", "features.9", "features.12", "avgpool", "classifier.1", "logits")
    CLP_PAIRS = (("features.0", "features.1"), ("features.3", "features.4"),
                 ("features.7", "features.8"), ("features.10", "features.11"))
    HEAD = "classifier.2"
    _FEATURE_TAPS = {2: "features.2", 5: "features.5", 9: "features.9", 12: "features.12"}

    def __init__(self, in_ch=1, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_ch, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=False),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=False),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(inplace=False),
            nn.MaxPool2d(2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(64, 128), nn.ReLU(inplace=False), nn.Linear(128, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))

    def forward_taps(self, x):
        taps = OrderedDict()
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self._FEATURE_TAPS:
                taps[self._FEATURE_TAPS[i]] = x
        x = self.avgpool(x)
        taps["avgpool"] = x
        x = torch.flatten(x, 1)
        x = self.classifier[0](x)
        x = self.classifier[1](x)
        taps["classifier.1"] = x
        x = self.classifier[2](x)
        taps["logits"] = x
        return x, taps


# ---------------------------------------------------------------------------------------------
# preact-resnet18 (BackdoorBench)


class PreActBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False))
        else:
            self.shortcut = None

    def forward(self, x):
        o = F.relu(self.bn1(x))
        sc = self.shortcut(o) if self.shortcut is not None else x
        o = self.conv1(o)
        o = self.conv2(F.relu(self.bn2(o)))
        return o + sc


class PreActResNet18(nn.Module):
    HEAD = "linear"

    def __init__(self, in_ch=3, num_classes=10, width=64):
        super().__init__()
        w = int(width)
        self.width = w
        self.conv1 = nn.Conv2d(in_ch, w, 3, stride=1, padding=1, bias=False)
        in_planes = w
        for i, (planes, stride) in enumerate(((w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)), start=1):
            blocks = [PreActBlock(in_planes, planes, stride), PreActBlock(planes, planes, 1)]
            in_planes = planes
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(8 * w, num_classes)

    @property
    def TAPS(self):
        return ("conv1",) + tuple(f"layer{l}.{b}" for l in range(1, 5) for b in range(2)) + ("logits",)

    @property
    def CLP_PAIRS(self):
        return tuple((f"layer{l}.{b}.conv1", f"layer{l}.{b}.bn2") for l in range(1, 5) for b in range(2))

    def forward(self, x):
        return self.forward_taps(x)[0]

    def forward_taps(self, x):
        taps = OrderedDict()
        x = self.conv1(x)
        taps["conv1"] = x
        for l in range(1, 5):
            for b, block in enumerate(getattr(self, f"layer{l}")):
                x = block(x)
                taps[f"layer{l}.{b}"] = x
        x = torch.flatten(self.avgpool(x), 1)
        x = self.linear(x)
        taps["logits"] = x
        return x, taps


# ---------------------------------------------------------------------------------------------
# resnet18 (kuangliu CIFAR ResNet-18 names, AdaptiveAvgPool2d(1))


class BasicBlock(nn.Module):
    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        o = F.relu(self.bn1(self.conv1(x)))
        o = self.bn2(self.conv2(o))
        return F.relu(o + self.shortcut(x))


class ResNet18(nn.Module):
    HEAD = "linear"

    def __init__(self, in_ch=3, num_classes=10, width=64):
        super().__init__()
        w = int(width)
        self.width = w
        self.conv1 = nn.Conv2d(in_ch, w, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        in_planes = w
        for i, (planes, stride) in enumerate(((w, 1), (2 * w, 2), (4 * w, 2), (8 * w, 2)), start=1):
            blocks = [BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1)]
            in_planes = planes
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.linear = nn.Linear(8 * w, num_classes)

    @property
    def TAPS(self):
        return ("stem",) + tuple(f"layer{l}.{b}" for l in range(1, 5) for b in range(2)) + ("logits",)

    @property
    def CLP_PAIRS(self):
        pairs = [("conv1", "bn1")]
        for l in range(1, 5):
            for b in range(2):
                p = f"layer{l}.{b}"
                pairs += [(f"{p}.conv1", f"{p}.bn1"), (f"{p}.conv2", f"{p}.bn2")]
                if l > 1 and b == 0:
                    pairs.append((f"{p}.shortcut.0", f"{p}.shortcut.1"))
        return tuple(pairs)

    def forward(self, x):
        return self.forward_taps(x)[0]

    def forward_taps(self, x):
        taps = OrderedDict()
        x = F.relu(self.bn1(self.conv1(x)))
        taps["stem"] = x
        for l in range(1, 5):
            for b, block in enumerate(getattr(self, f"layer{l}")):
                x = block(x)
                taps[f"layer{l}.{b}"] = x
        x = torch.flatten(self.avgpool(x), 1)
        x = self.linear(x)
        taps["logits"] = x
        return x, taps


# ---------------------------------------------------------------------------------------------
# registry

ARCHITECTURES = {
    "cnn-small": CnnSmall,
    "preact-resnet18": PreActResNet18,
    "resnet18": ResNet18,
}
HAS_WIDTH = {"preact-resnet18", "resnet18"}
DEFAULT_WIDTH = 64


def build(arch_name, in_ch, num_classes, width=None):
    """Builds an architecture by its registry name; `width` applies to the ResNets (default 64)."""
    if arch_name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch_name!r}; known: {', '.join(sorted(ARCHITECTURES))}")
    cls = ARCHITECTURES[arch_name]
    if arch_name in HAS_WIDTH:
        return cls(in_ch, num_classes, DEFAULT_WIDTH if width is None else int(width))
    if width is not None:
        raise ValueError(f"{arch_name} has no width option")
    return cls(in_ch, num_classes)
