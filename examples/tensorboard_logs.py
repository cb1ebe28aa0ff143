"""TensorBoard scalars and histograms recorded as Metric entities of the task that wrote them (needs
`provgraph[adapters]`; the writer here is torch's, any TensorBoard writer works).

Query them by tag and step afterwards, for instance:
    MATCH (m:Metric {metric: "loss"})-[:wasGeneratedBy]->(t:Task {name: "fit"}) RETURN m.step, m.value ORDER BY m.step
"""

import tempfile

import torch
from torch.utils.tensorboard import SummaryWriter

import capture
from capture.adapters import tensorboard as pg_tensorboard

LOGDIR = tempfile.mkdtemp(prefix="provgraph-tb-")


@capture.task()
def fit(epochs):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    with pg_tensorboard.recording(LOGDIR):  # event files written in this block belong to this task
        writer = SummaryWriter(LOGDIR)
        for epoch in range(epochs):
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            optimiser.step()
            writer.add_scalar("loss", loss.item(), epoch)
            writer.add_histogram("weight", model.weight.detach(), epoch)
        writer.close()


if __name__ == "__main__":
    with capture.Workflow("tensorboard_logs") as run:
        fit(4)
    print("run:", run.id)
