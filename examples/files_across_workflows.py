"""Files as entities identified by content: a file written by one run and read by another joins the two runs."""

import os
import tempfile

import capture

WORKDIR = tempfile.mkdtemp(prefix="provgraph-example-")


@capture.task(output_names="table")
def write_table(rows):
    path = os.path.join(WORKDIR, "table.csv")
    with open(path, "w") as handle:
        handle.writelines(f"{i},{i * i}\n" for i in range(rows))
    return capture.file(path)  # marked after writing: its entity is pgid:file_sha256_<content hash>


@capture.task(output_names="total")
def sum_table(table):
    with open(table) as handle:
        return sum(int(line.split(",")[1]) for line in handle)


if __name__ == "__main__":
    with capture.Workflow("producer") as producer:
        table = write_table(5)
    with capture.Workflow("consumer") as consumer:
        print("total:", sum_table(capture.file(table)))  # another run, the same file entity
    print("run:", producer.id)
    print("run:", consumer.id)
