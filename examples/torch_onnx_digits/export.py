"""Train a small PyTorch CNN on digits and export it to ONNX: the files this example commits.

Needs PyTorch and onnx (only to regenerate):

    pip install torch==2.13.0 onnx==1.23.2 scikit-learn
    python examples/torch_onnx_digits/export.py

writes, next to this script:
  digits_torch.onnx  the float model, input (batch, 1, 8, 8), output (batch, 10) logits
  expected.npz       a few test inputs (NCHW) and PyTorch's float outputs for them
"""

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from datasets import digits_split  # noqa: E402

EPOCHS = 60
BATCH = 32
EXPECTED_SAMPLES = 16


class DigitsNet(nn.Module):
    """Conv + BatchNorm, a depthwise conv with ReLU6, pooling, and two dense layers."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=1, groups=16),
            nn.ReLU6(),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1),
            nn.ReLU(),
            nn.AvgPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 2 * 2, 32),
            nn.ReLU(),
            nn.Linear(32, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def train(model, x, y) -> None:
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.from_numpy(x), torch.from_numpy(y).long()
    generator = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            optimizer.zero_grad()
            loss_fn(model(x[batch]), y[batch]).backward()
            optimizer.step()
    model.eval()


def main() -> None:
    torch.manual_seed(0)
    x_train, x_test, y_train, y_test = digits_split((1, 8, 8))
    model = DigitsNet()
    train(model, x_train, y_train)
    with torch.no_grad():
        logits = model(torch.from_numpy(x_test)).numpy()
    accuracy = 100 * np.mean(logits.argmax(axis=1) == y_test)
    print(f"PyTorch float accuracy on the test split: {accuracy:.2f} %")
    torch.onnx.export(
        model,
        (torch.from_numpy(x_test[:1]),),
        HERE / "digits_torch.onnx",
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    inputs = x_test[:EXPECTED_SAMPLES]
    np.savez(HERE / "expected.npz", inputs=inputs, outputs=logits[:EXPECTED_SAMPLES])


if __name__ == "__main__":
    main()
