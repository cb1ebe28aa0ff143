"""Manual start/stop of a workflow: handy when the workflow spans files or starts and stops dynamically."""

import capture


@capture.task
def double(x):
    return 2 * x


if __name__ == "__main__":
    run = capture.Workflow("manual_example")
    run.start()
    y = double(21)
    print("Result:", y)
    sent = run.stop()  # flushes with a bounded wait; False (and a logged message) if records are still queued
    print("run:", run.id, "all sent:", sent)
