"""Loop instrumentation: per-iteration tasks (streamed) and batched loops, unknown-length iterators, break."""

import itertools as it
import random
import time

import capture


def per_iteration():
    with capture.Workflow("telemetry_stream") as run:
        loop = capture.Loop(range(5), loop_name="train_loop", item_name="epoch", telemetry=True)
        for epoch in loop:
            loss = 0.1 * (5 - epoch)
            time.sleep(0.002)
            loop.end_iter({"loss": loss})  # values produced in this iteration
    print("run:", run.id)


def batched():
    data = [0, 1, 2, 3, 4]
    with capture.Workflow("batched_publish") as run:
        loop = capture.BatchedLoop(data, loop_name="eval_loop", item_name="batch")
        for batch in loop:
            loop.end_iter({"metric": batch * 2})  # published together when the loop ends
    print("run:", run.id)


def iterators():
    with capture.Workflow("iterators") as run:
        stream = it.islice(it.count(), 0, 100)  # no len(): never materialised
        loop_a = capture.Loop(stream, loop_name="loop_a", item_name="i", items_length=100)
        for i in loop_a:
            loop_a.end_iter({"v": i * i})
        stream2 = it.islice(it.count(), 0, 100)
        loop_b = capture.BatchedLoop(stream2, loop_name="loop_b", item_name="i", items_length=100)
        for i in loop_b:
            loop_b.end_iter({"v": i * i})
        for i in capture.Loop(it.count(), loop_name="open_ended"):  # no length at all, left with break
            if random.random() < 0.2 or i >= 20:
                break  # the iteration in progress is kept (status INTERRUPTED), none is lost
    print("run:", run.id)


def nested():
    with capture.Workflow("nested_loop") as run:
        with capture.CustomTask("epoch_driver") as driver:
            for step in capture.Loop(3, loop_name="steps", parent_task=driver):
                print("step", step)
    print("run:", run.id)


if __name__ == "__main__":
    per_iteration()
    batched()
    iterators()
    nested()
