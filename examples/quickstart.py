"""Quickstart: two tasks in one workflow run; the second uses the first's output, so lineage links them.

Run: ``python examples/quickstart.py`` (settings from the environment / settings file, see docs/capture.md).
The graph then holds: o1 wasGeneratedBy sum_one, mult_two used o1, o2 wasDerivedFrom o1.
"""

import capture


@capture.task(output_names="o1")
def sum_one(i1):
    return i1 + 1


@capture.task(output_names="o2")
def mult_two(o1):
    return o1 * 2


@capture.workflow(name="quickstart")
def main():
    n = 3
    o1 = sum_one(n)
    o2 = mult_two(o1)
    print("Final output", o2)
    print("run:", capture.current_run_id())


if __name__ == "__main__":
    main()
