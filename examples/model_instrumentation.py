"""Model instrumentation: each forward call of a torch-style model is a task that used the model entity.

Uses PyTorch when it is installed; otherwise a tiny pure-Python module with the same calling convention, so the
example runs anywhere (capture never imports torch itself).
"""

import random

import capture

try:
    import torch
    from torch import nn
except ImportError:  # a stand-in with nn.Module's calling convention
    torch = None

if torch is not None:

    @capture.instrument_model
    class MyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(10, 1)

        def forward(self, x):
            return self.fc(x)

    def train():
        x, y = torch.randn(100, 10), torch.randn(100, 1)
        model = MyNet()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = nn.MSELoss()
        for epoch in range(3):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)  # provenance captured here
            loss.backward()
            optimizer.step()
            print(f"Epoch {epoch} - Loss {loss.item()}")

else:

    class Matrix(list):
        @property
        def shape(self):
            return (len(self), len(self[0]))

        dtype = "float64"

    @capture.instrument_model
    class MyNet:
        def __init__(self):
            self.weights = [random.random() for _ in range(10)]

        def parameters(self):
            class Parameter:
                def __init__(self, count):
                    self.count = count

                def numel(self):
                    return self.count

            return [Parameter(len(self.weights))]

        def __call__(self, x):
            return self.forward(x)

        def forward(self, x):
            return Matrix([[sum(w * v for w, v in zip(self.weights, row, strict=True))] for row in x])

    def train():
        x = Matrix([[random.random() for _ in range(10)] for _ in range(100)])
        model = MyNet()
        for epoch in range(3):
            out = model(x)  # provenance captured here
            print(f"Epoch {epoch} - output shape {out.shape}")


if __name__ == "__main__":
    with capture.Workflow("model_training") as run:
        train()
    print("run:", run.id)
