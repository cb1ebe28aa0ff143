"""Files across runs: each write of a file is its own entity, equal bytes share one content entity, and a later read
links to the write it read (docs/capture.md, "Files")."""

import os
import tempfile

import capture

WORKDIR = tempfile.mkdtemp(prefix="provgraph-example-")


@capture.task(output_names="table", attributes={"format": "csv"}, types="Tabulation")
def write_table(rows):
    path = os.path.join(WORKDIR, "table.csv")
    with open(path, "w") as handle:
        handle.writelines(f"{i},{i * i}\n" for i in range(rows))
    # marked after writing: this generation's entity, a specialisation of pgid:file_sha256_<content hash>
    return capture.file(path, attributes={"rows": rows}, types="Table")


@capture.task(output_names="total")
def sum_table(table):
    with open(table) as handle:
        return sum(int(line.split(",")[1]) for line in handle)


if __name__ == "__main__":
    with capture.Workflow("producer") as producer:
        table = write_table(5)
    with capture.Workflow("consumer") as consumer:
        print("total:", sum_table(capture.file(table)))  # another run: it read what the producer wrote
    with capture.Workflow("producer") as rerun:
        write_table(5)  # the same bytes again: a second generation, the same content entity
    print("run:", producer.id)
    print("run:", consumer.id)
    print("run:", rerun.id)
