"""Every task decorator option: output names, tags, metadata, campaign/workflow override, args handler,
telemetry and light variants, argparse namespaces, async functions, errors, nesting."""

import argparse
import asyncio

import capture


@capture.task(output_names="y")  # a scalar result named y
def mult_two(x: int) -> int:
    return 2 * x


@capture.task(output_names=["y", "z"], tags=["math", "demo"], custom_metadata={"owner": "devX"})
def compute(x):
    return x * 2, x * 3  # mapped by position: y=10, z=15


@capture.task
def stats(values):
    return {"mean": sum(values) / len(values), "n": len(values)}  # a dict is passed through: outputs mean, n


ARGS_TO_DROP = ["very_big_list", "super_large_matrix"]


def custom_args_handler(*args, **kwargs):
    if args:
        raise ValueError("this handler expects keyword arguments only")
    return {k: v for k, v in kwargs.items() if k not in ARGS_TO_DROP}


@capture.task(args_handler=custom_args_handler, output_names="result")
def heavy_function(x, very_big_list, super_large_matrix):
    return x * 2  # only x and result are recorded


@capture.task(campaign_id="side_campaign", workflow_id="side_run")
def recorded_elsewhere(x):
    return x  # recorded into run pgid:run_side_run, whatever the current workflow


@capture.task(output_names="config")
def configure(args):
    return vars(args)  # argparse.Namespace inputs are flattened: lr and epochs


@capture.telemetry_task
def train_step(batch):
    return 0.123  # telemetry entities at start and end (when capture._telemetry is installed)


@capture.light_task
def fast_op(x):
    return x + 1  # ids, times, status and inputs, at the lowest cost


@capture.task(output_names="answer")
async def fetch(x):
    await asyncio.sleep(0)
    return x


@capture.task
def fails(x):
    raise ValueError(f"bad input {x}")


@capture.task
def outer(x):
    return mult_two(x)  # a nested task: wasStartedBy outer


@capture.workflow(name="decorators_demo", campaign_id="demo_campaign")
def main():
    mult_two(21)
    compute(5)
    stats([1.0, 2.0, 3.0])
    heavy_function(x=3, very_big_list=list(range(10_000)), super_large_matrix=[[0] * 100] * 100)
    recorded_elsewhere(1)
    configure(argparse.Namespace(lr=0.01, epochs=3))
    train_step([1, 2, 3])
    for i in range(1000):
        fast_op(i)
    asyncio.run(fetch(7))
    try:
        fails(1)
    except ValueError as exc:
        print("recorded and re-raised:", exc)
    outer(4)
    print("run:", capture.current_run_id())


if __name__ == "__main__":
    main()
