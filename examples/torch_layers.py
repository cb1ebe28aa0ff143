"""A PyTorch model recorded down to its layers (needs `provgraph[torch]` for torch; capture never imports it).

`instrument_model(model, depth=1)` makes each forward of the model and of its direct children (`encoder`, `head`)
a task, nested in the epoch and batch loops; the model and its layers are entities with their profile
(parameters, shapes, dtypes, device), and the saved checkpoint is a file derived from the model.
"""

import os
import tempfile

import torch

import capture
from capture.adapters import torch as pg_torch


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU())
        self.head = torch.nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.encoder(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = pg_torch.instrument_model(TinyNet(), depth=1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05)
    data = [(torch.randn(8, 4), torch.randn(8, 1)) for _ in range(3)]
    with capture.Workflow("torch_layers") as run:
        for _epoch in pg_torch.epochs(2):
            for x, y in pg_torch.batches(data):
                optimiser.zero_grad()
                loss = torch.nn.functional.mse_loss(model(x), y)
                loss.backward()
                optimiser.step()
        pg_torch.save_checkpoint(model, os.path.join(tempfile.mkdtemp(prefix="provgraph-torch-"), "tiny.pt"))
    print("run:", run.id)
