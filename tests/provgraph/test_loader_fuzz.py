"""Acceptance fuzz test of the loader, both backends: 10,000 generated hostile or malformed entries and records,
interleaved with valid messages (some sent twice), pushed to a running loader. The loader never exits; every bad
entry and every bad record is in the dead letters with a reason; every valid record is in the graph exactly once.

Seeded, so a failure reproduces; its own stream, group, document and namespace; nodes deleted at the end.
"""

from __future__ import annotations

import json
import random
import threading
import time

from capture import wire
from provgraph.loader import Loader

BAD_ENTRIES = 5_000
BAD_RECORDS = 5_000
VALID_MESSAGES = 1_500


class Fuzz:
    """The generated stream: payloads in order, and what each one must become."""

    def __init__(self, unique: str, backend_kind: str, seed: int = 13) -> None:
        self.rng = random.Random(seed)
        self.ns = f"https://example.org/fuzz/{unique}/"
        self.doc = f"ex:fuzz-{unique}"
        self.backend_kind = backend_kind
        self.entries: list[tuple[dict[bytes, bytes], str, object]] = []  # fields, kind, expectation
        self.valid_elements: set[str] = set()  # local names of element records that must be declared once
        self.valid_relations = 0  # relation records (each distinct) that must exist once
        self.counter = 0

    # -- valid content -----------------------------------------------------------------------------------------

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    def valid_record(self) -> dict:
        n = self._next()
        roll = self.rng.random()
        if roll < 0.5:
            kind = self.rng.choice(["entity", "activity", "agent"])
            attrs = [["ex:n", n], ["prov:label", f"r{n}"]]
            if (
                self.rng.random() < 0.3
            ):  # hostile but valid names and values: stored under safe property names
                attrs += [
                    ["ex:key", "not the node key"],
                    ["pg:_decl", "not the declarations"],
                    ["ex:a b;DROP", "x"],
                    ["ex:v", {"$": "π≈3.14 \U0001d11e", "lang": "el"}],
                    ["ex:big", {"$": str(2**80), "type": "xsd:integer"}],
                    ["ex:q", wire.qualified_name("ex:Thing")],
                ]
            record = wire.element(kind, f"ex:v{n}", attrs=attrs)
            self.valid_elements.add(f"v{n}")
            return record
        self.valid_relations += 1
        return wire.relation(
            "used", activity=f"ex:act{n % 50}", entity=f"ex:ent{n % 70}", attrs=[["ex:n", n]]
        )

    def message(self, records: list, ns: dict | None = None) -> bytes:
        return json.dumps(
            {"v": 1, "doc": self.doc, "ns": {"ex": self.ns} if ns is None else ns, "records": records}
        ).encode()

    # -- bad records (the message around them is valid) ----------------------------------------------------------

    def bad_record(self) -> dict:
        n = self._next()
        choice = self.rng.randrange(16)
        if choice == 0:
            return {"k": self.rng.choice([["entity"], {"entity": 1}, 5, None, True]), "id": f"ex:bad{n}"}
        if choice == 1:
            return {"k": "wasFooedBy", "id": f"ex:bad{n}"}
        if choice == 2:
            return {"k": "entity", "id": "ex:bad" + "x" * self.rng.randint(1100, 50_000)}
        if choice == 3:
            return {
                "k": "entity",
                "id": f"ex:bad{n}",
                "a": [["ex:" + "n" * self.rng.randint(300, 20_000), 1]],
            }
        if choice == 4:
            value: object = []
            for _ in range(self.rng.randint(2, 200)):
                value = [value]
            return {"k": "entity", "id": f"ex:bad{n}", "a": [["ex:x", value]]}
        if choice == 5:
            return {"k": "agent", "id": f"nowhere:bad{n}"}
        if choice == 6:
            return {"k": "wasStartedBy", "f": {"activity": f"ex:bad{n}", "trigger": "bare"}}
        if choice == 7:
            return {
                "k": "used",
                "f": {"activity": f"ex:bad{n}", "entity": self.rng.choice([3, None, [], {}])},
            }
        if choice == 8:
            return {"k": "used", "f": {"activity": f"ex:bad{n}", "bogus": "ex:e"}}
        if choice == 9:
            return {"k": "entity", "id": f"ex:bad{n}", "a": self.rng.choice([{"a": 1}, "x", [["only-name"]]])}
        if choice == 10:
            return {"k": "entity", "id": f"ex:bad{n}", "a": [["ex:v", {"$": 1}]]}
        if choice == 11:
            return {"k": "entity", "id": self.rng.choice(["", 17, ["ex:x"], {"$": "x"}])}
        if choice == 12:
            return {"k": "entity", "id": f"ex:bad{n}", "ns": {"ex": "https://x/"}}
        if choice == 13:
            return {"k": "entity", "id": f"ex:bad{n}", "a": [[f"ex:a{i}", i] for i in range(1001)]}
        if choice == 14:
            return self.rng.choice(["entity", 3, None, [1, 2]])
        return {"k": "activity", "id": f"ex:bad{n}", "f": {"startTime": 20260101}}

    # -- bad entries -----------------------------------------------------------------------------------------------

    def bad_entry(self) -> dict[bytes, bytes]:
        rng = self.rng
        choice = rng.randrange(14)
        good = self.message([self.valid_record_for_bad()])
        if choice == 0:
            return {b"m": rng.randbytes(rng.randint(0, 400))}
        if choice == 1:
            return {b"m": good[: rng.randint(0, len(good) - 1)]}  # truncated JSON
        if choice == 2:
            return {
                b"m": good.replace(b'"v": 1', b'"v": ' + rng.choice([b"2", b'"1"', b"null", b"1.0", b"[1]"]))
            }
        if choice == 3:
            return {
                b"m": good.replace(f'"doc": "{self.doc}"'.encode(), rng.choice([b'"doc": 5', b'"doc": ""']))
            }
        if choice == 4:
            return {b"m": good.replace(b'"ns": {', b'"ns": [{').replace(b'"}, "records"', b'"}], "records"')}
        if choice == 5:
            return {b"m": good.replace(b'"records": [', b'"records": {"x": [').replace(b"]}", b"]}}")}
        if choice == 6:
            return {b"m": good.replace(b"ex:never", b"ex:never\\ud800", 1)}  # escaped lone surrogate
        if choice == 7:
            return {b"m": good.replace(b"ex:never", b"ex:never\xed\xa0\x80", 1)}  # raw surrogate bytes
        if choice == 8:
            depth = (
                rng.choice([1000, 5000, 20_000, 100_000]) if rng.random() < 0.01 else rng.randint(50, 3000)
            )
            return {b"m": b"[" * depth + b"]" * depth}
        if choice == 9:
            return {b"m": good.replace(f'"doc": "{self.doc}"'.encode(), b'"doc": "ex:' + b"d" * 5000 + b'"')}
        if choice == 10:
            return {
                b"m": good.replace(b'"ns": {"ex": "', b'"ns": {"ex": "\\udfff')
            }  # surrogate in a namespace
        if choice == 11:
            return {b"payload": good}  # no field m
        if choice == 12:
            return {b"m": rng.choice([b"null", b"[]", b"42", b'"text"', b"", b"{}", b'{"v": 1}'])}
        return {b"m": good.replace(b'"ns": {"ex"', b'"ns": {"' + b"p" * 300 + b'"')}  # over-long prefix

    def valid_record_for_bad(self) -> dict:
        n = self._next()
        return wire.element("entity", f"ex:never{n}")  # inside a bad entry: must never reach the graph

    # -- the stream ------------------------------------------------------------------------------------------------

    def build(self) -> None:
        bad_entries, bad_records, valid = BAD_ENTRIES, BAD_RECORDS, VALID_MESSAGES
        sent: list[tuple[bytes, list[int]]] = []
        while bad_entries or bad_records or valid:
            roll = self.rng.random()
            if bad_entries and roll < 0.45:
                bad_entries -= 1
                fields = self.bad_entry()
                if b"m" in fields:  # the generator's own check: the format refuses every one of them
                    try:
                        wire.decode_message_partial(fields[b"m"])
                    except wire.WireFormatError:
                        pass
                    else:
                        raise AssertionError(f"generated a valid 'bad' entry: {fields[b'm'][:200]!r}")
                self.entries.append((fields, "bad entry", None))
            elif valid and (roll < 0.8 or not bad_records):
                valid -= 1
                records = [self.valid_record() for _ in range(self.rng.randint(1, 12))]
                bad_here = []
                if bad_records and self.rng.random() < 0.9:
                    for _ in range(min(bad_records, self.rng.randint(1, 8))):
                        position = self.rng.randint(0, len(records))
                        records.insert(position, self.bad_record())
                        bad_records -= 1
                    bad_here = [i for i, r in enumerate(records) if self._is_bad(r)]
                payload = self.message(records)
                sent.append((payload, bad_here))
                self.entries.append(({b"m": payload}, "records", bad_here))
            elif bad_records:
                records = [self.bad_record()]
                bad_records -= 1
                self.entries.append(({b"m": self.message(records)}, "records", [0]))
            if sent and self.rng.random() < 0.05:  # at-least-once delivery: a message again (bad records too)
                payload, bad_here = self.rng.choice(sent)
                self.entries.append(({b"m": payload}, "records", bad_here))

    @staticmethod
    def _is_bad(record: object) -> bool:
        if not isinstance(record, dict):
            return True
        ident = record.get("id")
        if isinstance(ident, str) and ident.startswith(("ex:v", "ex:act", "ex:ent")):
            return False
        if record.get("k") == "used" and isinstance(record.get("f"), dict):
            f = record["f"]
            return not (
                isinstance(f.get("activity"), str)
                and f["activity"].startswith("ex:act")
                and isinstance(f.get("entity"), str)
                and set(f) == {"activity", "entity"}
            )
        return True


def test_fuzzed_stream_against_a_running_loader(any_backend, any_redis, any_settings, unique, backend_kind):
    backend, redis_client, settings = any_backend, any_redis, any_settings
    fuzz = Fuzz(unique, backend_kind)
    fuzz.build()
    bad_entries = sum(1 for _, kind, _ in fuzz.entries if kind == "bad entry")
    bad_records = sum(
        len(expect) for _, kind, expect in fuzz.entries if kind == "records"
    )  # repeats count too
    assert bad_entries + bad_records >= 10_000

    failures: list[BaseException] = []
    loader = Loader(settings, backend=backend, redis_client=redis_client, consumer="fuzzed")

    def run() -> None:
        try:
            loader.run()
        except BaseException as exc:  # the test fails on it below
            failures.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ids: list[str] = []
    try:
        for start in range(0, len(fuzz.entries), 500):  # pushed while the loader runs
            pipe = redis_client.pipeline(transaction=False)
            for fields, _, _ in fuzz.entries[start : start + 500]:
                pipe.xadd(settings.stream, fields)
            ids += [i.decode() for i in pipe.execute()]
            assert thread.is_alive(), failures
        deadline = time.monotonic() + 300  # a bound for a loaded machine, not a timing claim
        while time.monotonic() < deadline:
            groups = redis_client.xinfo_groups(settings.stream)  # none until the loader has started
            if groups and groups[0]["pending"] == 0 and groups[0]["lag"] == 0:
                break
            assert thread.is_alive(), failures
            time.sleep(0.2)
        assert thread.is_alive() and not failures, failures  # it never exited
        loader.stop()
        thread.join(timeout=180)
        assert not thread.is_alive() and not failures, failures

        # every bad entry and every bad record is in the dead letters, with a reason
        dead: dict[tuple[str, int | None], bytes] = {}
        for _, fields in redis_client.xrange(settings.dead_letter_stream):
            record = fields.get(b"record")
            key = (fields[b"entry_id"].decode(), int(record) if record is not None else None)
            assert key not in dead, f"dead-lettered twice: {key}"
            assert fields[b"reason"], key
            dead[key] = fields[b"reason"]
        expected = set()
        for entry_id, (_, kind, expect) in zip(ids, fuzz.entries, strict=True):
            if kind == "bad entry":
                expected.add((entry_id, None))
            elif kind == "records":
                expected |= {(entry_id, index) for index in expect}
        extra = sorted(set(dead) - expected)[:5]
        assert not extra, [(key, dead[key]) for key in extra]
        assert set(dead) == expected

        # every valid record is in the graph exactly once; nothing of a bad entry or record is
        rows = backend.read(
            "MATCH (n:Element) WHERE n.key STARTS WITH $ns AND n.declared "
            "RETURN n.key AS key, size(n._decl) AS decls",
            {"ns": fuzz.ns},
        )
        declared = {row["key"][len(fuzz.ns) :]: row["decls"] for row in rows}
        assert set(declared) == fuzz.valid_elements
        assert set(declared.values()) == {1}
        rels = backend.read(
            "MATCH ()-[r:used]->() WHERE r.doc = $doc RETURN count(r) AS n, count(DISTINCT r.sk) AS sks",
            {"doc": fuzz.doc},
        )[0]
        assert rels["n"] == rels["sks"] == fuzz.valid_relations
    finally:
        loader.stop()
        thread.join(timeout=180)
        loader.close()
        while True:
            rows = backend.read(
                "MATCH (n:Element) WHERE n.key STARTS WITH $ns RETURN count(n) AS n", {"ns": fuzz.ns}
            )
            if not rows[0]["n"]:
                break
            backend.write(
                [
                    (
                        "MATCH (n:Element) WHERE n.key STARTS WITH $ns WITH n LIMIT 5000 DETACH DELETE n",
                        {"ns": fuzz.ns},
                    )
                ]
            )
        backend.write(
            [
                ("MATCH (n:Element) WHERE n.key STARTS WITH $doc DETACH DELETE n", {"doc": fuzz.doc}),
                ("MATCH (n:Namespace {doc: $doc}) DETACH DELETE n", {"doc": fuzz.doc}),
                ("MATCH (n:Document {id: $doc}) DETACH DELETE n", {"doc": fuzz.doc}),
            ]
        )
        redis_client.delete(settings.stream, settings.dead_letter_stream)
