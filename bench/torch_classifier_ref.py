"""PyTorch CPU reference for gssd's final-classifier training step (METHOD.md step 7): a CIFAR
ResNet-18 of width W (3x3 stem, no max-pool, 4 stages x 2 basic blocks, 1x1 conv + BN
shortcuts) and a linear head to 10 classes, softmax cross-entropy, SGD lr 0.1, momentum 0.9,
weight decay 5e-4, random 32-px batches. Prints `classifier_train_images_per_s N`.

Usage: /usr/bin/python3 bench/torch_classifier_ref.py [--width 16] [--batch 128] [--seconds 10] [--threads 2]
(Debian: apt-get install python3-torch libopenblas0-pthread)"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.shortcut(x) if self.shortcut is not None else x))


class Classifier(nn.Module):
    def __init__(self, width, classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks, cin = [], width
        for mult, stride in [(1, 1), (2, 2), (4, 2), (8, 2)]:
            cout = mult * width
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(cin, classes)

    def forward(self, x):
        h = F.adaptive_avg_pool2d(self.blocks(self.stem(x)), 1).flatten(1)
        return self.head(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)  # as torch_ref.py; torch's default may count physical cores only
    model = Classifier(a.width, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    x = torch.randn(a.batch, 3, 32, 32)
    y = torch.randint(0, 10, (a.batch,))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    step()
    step()
    n, t0 = 0, time.time()
    while time.time() - t0 < a.seconds:
        step()
        n += a.batch
    print(f"classifier_train_images_per_s {n / (time.time() - t0):.1f}")


if __name__ == "__main__":
    main()
