"""A deterministic mix of PROV records for the loader tests, with what the graph must hold afterwards.

Every element kind, every relation kind, bundles with their own prefix, typed, language-tagged, qualified-name
and multi-valued attributes, relations with a missing end (and without a subject), references to elements that
are never declared, relation ids used more than once, and exact duplicate records (stored once). Every key lives
under the namespace ``https://example.org/<token>/`` or the document id, so tests count only their own nodes.

The expected counts are computed here from what was generated, independently of the loader's code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from capture import wire

RELATION_ENDS: dict[str, tuple[str, str, str | None]] = {
    # relation: (subject formal, first object formal, kind the object must be: e/a/ag)
    "wasGeneratedBy": ("entity", "activity", "a"),
    "used": ("activity", "entity", "e"),
    "wasInformedBy": ("informed", "informant", "a"),
    "wasStartedBy": ("activity", "trigger", "e"),
    "wasEndedBy": ("activity", "trigger", "e"),
    "wasInvalidatedBy": ("entity", "activity", "a"),
    "wasDerivedFrom": ("generatedEntity", "usedEntity", "e"),
    "wasAttributedTo": ("entity", "agent", "ag"),
    "wasAssociatedWith": ("activity", "agent", "ag"),
    "actedOnBehalfOf": ("delegate", "responsible", "ag"),
    "wasInfluencedBy": ("influencee", "influencer", "e"),
    "specializationOf": ("specificEntity", "generalEntity", "e"),
    "alternateOf": ("alternate1", "alternate2", "e"),
    "hadMember": ("collection", "entity", "e"),
    "mentionOf": ("specificEntity", "generalEntity", "e"),
}
SUBJECT_KIND = {
    "wasGeneratedBy": "e", "used": "a", "wasInformedBy": "a", "wasStartedBy": "a", "wasEndedBy": "a",
    "wasInvalidatedBy": "e", "wasDerivedFrom": "e", "wasAttributedTo": "e", "wasAssociatedWith": "a",
    "actedOnBehalfOf": "ag", "wasInfluencedBy": "a", "specializationOf": "e", "alternateOf": "e",
    "hadMember": "e", "mentionOf": "e",
}  # fmt: skip
KIND_PREFIX = {"e": "entity", "a": "activity", "ag": "agent"}


@dataclass
class MixedRecords:
    token: str
    doc: str
    namespace: str
    messages: list[wire.Message] = field(default_factory=list)
    element_keys: set[str] = field(default_factory=set)  # every node key the graph must hold
    declared_keys: set[str] = field(default_factory=set)
    file_keys: set[str] = field(default_factory=set)  # elements of prov:type pg:File (label File)
    relations: dict[str, int] = field(default_factory=dict)  # type -> distinct relation records
    samples: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> expected node properties
    records: int = 0

    @property
    def relation_count(self) -> int:
        return sum(self.relations.values())


def build(token: str, total: int, per_message: int = 1000) -> MixedRecords:
    """About ``total`` records in messages of ``per_message``; every 10th message is a bundle's."""
    ns = f"https://example.org/{token}/"
    mixed = MixedRecords(token=token, doc=f"pgid:loadtest_{token}", namespace=ns)
    seen_relations: set[str] = set()
    message_index = 0
    while mixed.records < total:
        in_bundle = message_index % 10 == 9
        records: list[dict[str, Any]] = []
        bundle = None
        prefix = "ex"
        bundle_uri = ""
        if in_bundle:
            bundle = f"ex:bundle{message_index}"
            bundle_uri = ns + f"bundle{message_index}"
            prefix = "bx"
            records.append({"k": "bundle", "id": bundle, "ns": {"bx": ns + "b/"}})
            mixed.element_keys.add(bundle_uri)
            mixed.declared_keys.add(bundle_uri)
        base = ns + "b/" if in_bundle else ns

        def key(local: str, base: str = base, bundle_uri: str = bundle_uri) -> str:
            return f"{bundle_uri} {base}{local}" if bundle_uri else base + local

        count = min(per_message - len(records), total - mixed.records - len(records))
        start = message_index * per_message
        for j in range(count):
            i = start + j
            slot = i % 20
            if slot < 5:  # elements: entity, entity, activity, agent, entity with a subtype
                kind = "e" if slot in (0, 1, 4) else ("a" if slot == 2 else "ag")
                ident = f"{prefix}:{KIND_PREFIX[kind]}{i}"
                attrs: list[list[Any]] = [
                    ["prov:label", f"{KIND_PREFIX[kind]} {i}"],
                    [f"{prefix}:n", i],
                    [f"{prefix}:ratio", i / 4],
                    [f"{prefix}:flag", i % 2 == 0],
                    [f"{prefix}:when", wire.typed_literal("2026-01-01T00:00:00Z", "xsd:dateTime")],
                    [f"{prefix}:greeting", wire.lang_string("bonjour", "fr")],
                    [f"{prefix}:multi", 1],
                    [f"{prefix}:multi", "two"],
                    [f"{prefix}:big", wire.typed_literal(str(2**70), "xsd:integer")],
                ]
                if slot == 4:
                    attrs.append(["prov:type", wire.qualified_name("pg:File")])
                    attrs.append([f"{prefix}:tags", "a"])
                    attrs.append([f"{prefix}:tags", "b"])
                formal = {"startTime": "2026-01-01T00:00:00Z"} if kind == "a" else None
                records.append(
                    wire.element(KIND_PREFIX[kind], ident, attrs=attrs, formal=formal, bundle=bundle)
                )
                k = key(f"{KIND_PREFIX[kind]}{i}")
                mixed.element_keys.add(k)
                mixed.declared_keys.add(k)
                if slot == 4:
                    mixed.file_keys.add(k)
                if i % 97 == 0:
                    expected = {
                        "id": ident,
                        "label": f"{KIND_PREFIX[kind]} {i}",
                        f"{prefix}:n": i,
                        f"{prefix}:ratio": i / 4,
                        f"{prefix}:flag": i % 2 == 0,
                        f"{prefix}:when": "2026-01-01T00:00:00Z",
                        f"{prefix}:greeting": "bonjour",
                        f"{prefix}:multi": ["1", "two"],
                        f"{prefix}:big": str(2**70),
                        "declared": True,
                    }
                    if slot == 4:
                        expected["types"] = ["pg:File"]
                        expected[f"{prefix}:tags"] = ["a", "b"]
                    mixed.samples[k] = expected
                continue
            rel = list(RELATION_ENDS)[(i // 20 + slot) % len(RELATION_ENDS)]
            subject_formal, object_formal, object_kind = RELATION_ENDS[rel]
            group = i - slot
            subject_ref = f"{KIND_PREFIX[SUBJECT_KIND[rel]]}{group + (2 if SUBJECT_KIND[rel] == 'a' else 3 if SUBJECT_KIND[rel] == 'ag' else 0)}"
            object_ref = f"{KIND_PREFIX[object_kind]}{group + (2 if object_kind == 'a' else 3 if object_kind == 'ag' else 1)}"
            formal: dict[str, str] = {}
            variant = i % 7
            if variant == 0:
                object_ref = f"missing{i}"  # never declared
            if variant != 1:  # variant 1: missing object end (a self-loop)
                formal[object_formal] = f"{prefix}:{object_ref}"
            if not (variant == 2 and rel == "wasGeneratedBy"):  # no subject: hangs from the placeholder
                formal[subject_formal] = f"{prefix}:{subject_ref}"
            else:
                mixed.element_keys.add(f"{bundle_uri or mixed.doc} _:")
            if rel in ("wasGeneratedBy", "used", "wasInvalidatedBy"):
                formal["time"] = "2026-01-01T00:00:01Z"
            if rel == "wasDerivedFrom":
                formal["activity"] = f"{prefix}:activity{group + 2}"
            identifier = f"{prefix}:r{i // 40}" if i % 3 == 0 else None  # ids repeat: not unique keys
            attrs = [["prov:role", "input"], [f"{prefix}:w", i]] if i % 5 == 0 else []
            record = wire.relation(rel, identifier, attrs=attrs, bundle=bundle, **formal)
            records.append(record)
            if i % 11 == 0:
                records.append(json.loads(json.dumps(record)))  # an exact duplicate: stored once
            for name, qname in formal.items():
                if name != "time":
                    mixed.element_keys.add(key(qname.split(":", 1)[1]))
            canonical = json.dumps(record, sort_keys=True)
            if canonical not in seen_relations:
                seen_relations.add(canonical)
                mixed.relations[rel] = mixed.relations.get(rel, 0) + 1
        mixed.messages.append(wire.Message(doc=mixed.doc, records=records, namespaces={"ex": ns}))
        mixed.records += len(records)
        message_index += 1
    return mixed


def payloads(mixed: MixedRecords) -> list[bytes]:
    return [wire.encode_message(m.doc, m.records, m.namespaces) for m in mixed.messages]
