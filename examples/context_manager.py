"""A workflow as a context manager: everything inside the block belongs to the run.

Also shows the optional arguments: subtype, campaign, workflow-level arguments.
"""

import capture


@capture.task(output_names="z")
def add_one(x):
    return x + 1


@capture.task(output_names="model")
def train_model(epochs_list, learning_rates):
    return {"best_lr": min(learning_rates), "epochs": max(epochs_list)}


if __name__ == "__main__":
    with capture.Workflow("my_workflow") as run:
        z = add_one(7)
        print(z)
    print("run:", run.id)

    with capture.Workflow(
        "training_workflow",
        subtype="ml_workflow",
        campaign_id="experiment_42",
        args={"epochs_list": [10, 100], "learning_rates": [0.1, 0.01, 0.001]},
    ) as training:
        train_model([10, 100], [0.1, 0.01, 0.001])
    print("run:", training.id)
