"""Wire encoding choice, measured: encode + decode of realistic message batches with orjson, stdlib json and
msgpack (docs/wire-format.md, "Encoding").

The batch is capture-shaped (the records of bench/load_throughput.py: tasks, values, telemetry, used,
wasGeneratedBy, wasStartedBy) in messages of ``--message-records`` records. Each codec encodes the message dict
and decodes it back (the decoded value must equal the original); the best of ``--repeat`` rounds is reported as
records/s and bytes per record. CPU time (``process_time``) is used, so other work on the machine matters less.
The last line is one JSON object.

    python bench/wire_encoding.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from load_throughput import workload  # noqa: E402


def codecs() -> dict:
    import msgpack
    import orjson

    return {
        "orjson": (orjson.dumps, orjson.loads),
        "json": (
            lambda m: json.dumps(m, separators=(",", ":"), ensure_ascii=False).encode(),
            json.loads,
        ),
        "msgpack": (msgpack.packb, lambda b: msgpack.unpackb(b, raw=False)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--message-records", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    doc = "pgid:run_bench"
    messages = [
        {"v": 1, "doc": doc, "ts": 1764000000.123, "src": "host:1", "ns": {}, "records": records}
        for records in workload("wirebench_", doc, args.records, args.message_records)
    ]
    total = sum(len(m["records"]) for m in messages)
    results = {}
    for name, (encode, decode) in codecs().items():
        best_encode = best_decode = float("inf")
        size = 0
        for _ in range(args.repeat):
            started = time.process_time()
            payloads = [encode(m) for m in messages]
            best_encode = min(best_encode, time.process_time() - started)
            started = time.process_time()
            decoded = [decode(p) for p in payloads]
            best_decode = min(best_decode, time.process_time() - started)
            size = sum(len(p) for p in payloads)
        assert decoded == messages, f"{name} does not round-trip"
        results[name] = {
            "encode_records_per_s": round(total / best_encode),
            "decode_records_per_s": round(total / best_decode),
            "both_records_per_s": round(total / (best_encode + best_decode)),
            "bytes_per_record": round(size / total, 1),
        }
        r = results[name]
        print(
            f"{name:8s} encode {r['encode_records_per_s']:>11,} rec/s  decode {r['decode_records_per_s']:>11,} rec/s  "
            f"both {r['both_records_per_s']:>11,} rec/s  {r['bytes_per_record']:6.1f} B/record"
        )
    base = results["json"]["both_records_per_s"]
    summary = {
        "records": total,
        "message_records": args.message_records,
        **{f"{name}_records_per_s": r["both_records_per_s"] for name, r in results.items()},
        **{f"{name}_bytes_per_record": r["bytes_per_record"] for name, r in results.items()},
        "orjson_vs_json": round(results["orjson"]["both_records_per_s"] / base, 2),
        "msgpack_vs_json": round(results["msgpack"]["both_records_per_s"] / base, 2),
        "chosen": "json (orjson when installed)",
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
