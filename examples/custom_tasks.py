"""Custom tasks: context-managed, explicit end, send without ending, auto-end, agents, tags, binary data."""

import time
import uuid

import capture


def download_and_parse():
    with capture.Workflow("custom_tasks") as run:
        with capture.CustomTask("download", used={"url": "https://example.org/data.bin"}) as t:
            data = b"\x00\x01 some binary payload"
            t.end(data=data, generated={"bytes": len(data)})  # data becomes an entity (size, SHA-256)
        task = capture.CustomTask("parse", used={"bytes": len(data)})
        task.end({"records": 42})
    print("run:", run.id)


def end_versus_send():
    run = capture.Workflow("MyFirstWorkflow")
    run.start()
    agent1 = uuid.uuid4()
    # send(): publishes a RUNNING snapshot without ending the task
    capture.CustomTask("super_func1", used={"x": 1}, agent_id=agent1, tags=["tag1"]).send()
    with capture.CustomTask("super_func2", used={"y": 1}, agent_id=agent1, tags=["tag2"]) as t2:
        time.sleep(0.05)
        t2.end(generated={"o": 3})
    t3 = capture.CustomTask("super_func3", used={"z": 1}, agent_id=agent1, tags=["tag3"])
    time.sleep(0.01)
    t3.end(generated={"w": 1})
    # end fields given at construction: the task ends (and publishes) at once
    capture.CustomTask("super_func4", used={"q": 1}, generated={"r": 2}, stdout="done")
    run.stop()
    print("run:", run.id)


if __name__ == "__main__":
    download_and_parse()
    end_versus_send()
