"""GPU telemetry: three tasks record start/end telemetry (every type is on by default), GPUs included.

Run: ``python examples/gpu_telemetry.py`` (settings from the environment / settings file, see docs/telemetry.md).
With a GPU, each task's two Telemetry nodes carry ``gpu_count`` and ``gpu_N_*`` readings (used memory,
temperature, power, name, UUID, utilisation, clocks) and this script prints what the GPUs read after each task.
Without one (CI), the tasks are still recorded (``gpu_count`` 0) and the script says that no GPU was found.
``CUDA_VISIBLE_DEVICES`` picks which GPUs are reported, as it does for CUDA.

Query the readings per device afterwards, e.g.::

    MATCH (t:Telemetry {phase: 'end'})-[:wasGeneratedBy]->(task:Task)
    RETURN task.name, t.gpu_0_name, t.gpu_0_used_bytes, t.gpu_0_temperature_c, t.gpu_0_power_mw
"""

import time

import capture


@capture.task(telemetry=True, output_names="total")
def crunch(n):
    return sum(i * i for i in range(n))


def gpu_lines(snapshot):
    count = snapshot.get("gpu_count", 0)
    for n in range(count):
        yield (
            f"  gpu_{n} {snapshot.get(f'gpu_{n}_name')} ({snapshot.get(f'gpu_{n}_id')}): "
            f"used {snapshot.get(f'gpu_{n}_used_bytes', 0) / 2**20:.0f} MiB of "
            f"{snapshot.get(f'gpu_{n}_total_bytes', 0) / 2**20:.0f} MiB, "
            f"{snapshot.get(f'gpu_{n}_temperature_c')} C, {snapshot.get(f'gpu_{n}_power_mw')} mW, "
            f"utilisation {snapshot.get(f'gpu_{n}_utilization_percent')} %"
        )


@capture.workflow(name="gpu_telemetry")
def main():
    found = False
    for size in (200_000, 400_000, 800_000):
        crunch(size)
        lines = list(gpu_lines(capture.telemetry_snapshot(["gpu"])))
        if lines:
            found = True
            print(f"after crunch({size}):")
            print("\n".join(lines))
            time.sleep(0.2)
    if not found:
        print("no GPU found (the capture._gpu logger says why, at INFO); the tasks recorded gpu_count 0")
    print("run:", capture.current_run_id())


if __name__ == "__main__":
    main()
