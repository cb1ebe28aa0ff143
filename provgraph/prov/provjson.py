"""PROV-JSON that other PROV readers read back: one object per element, typed values in arrays (docs/export.md).

PROV-JSON keys each record kind's records by identifier. The ``prov`` library writes several declarations of one
element (capture's run: declared when it starts, again when it ends) as a JSON array under that key, a form the
PROV-JSON submission does not define and ProvToolbox refuses. PROV-DM says several declarations of one identifier
are one element with the attributes of all of them, so the export merges them (`merge_declarations`).

ProvToolbox 2.2.1 reads an attribute value right only inside an array (a multi-valued attribute with one value,
equally valid PROV-JSON): a single typed value written as one object (``{"$": "4095", "type": "xsd:int"}``) comes
out as two strings, a single string or number is dropped, and a number or boolean even inside an array is read as
``"null"``. So every attribute's values are written in an array, numbers and booleans as typed values
(``xsd:int``/``xsd:long``/``xsd:integer`` by size, ``xsd:double``, ``xsd:boolean``); ``prov`` reads them back as the
same values. And ``prov`` writes a
qualified-name value (``prov:type='ex:Image'``) typed ``xsd:QName``, which ProvToolbox reads as a string literal;
typed ``prov:QUALIFIED_NAME`` (PROV-N's name for it) both read it as the qualified name it is. ``prov`` reads the
two types alike, so nothing changes for it (`portable_json`).
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prov.model import ProvBundle, ProvDocument, ProvRecord

__all__ = ["merge_declarations", "portable_json"]


def _repeated(bundle: ProvBundle) -> dict[Any, list[ProvRecord]]:
    """The elements of ``bundle`` declared more than once: (kind, identifier) -> declarations, in order."""
    groups: dict[Any, list[ProvRecord]] = defaultdict(list)
    for record in bundle.get_records():
        if record.is_element() and record.identifier is not None:
            groups[(record.get_type(), record.identifier)].append(record)
    return {key: records for key, records in groups.items() if len(records) > 1}


def _mergeable(records: list[ProvRecord]) -> bool:
    """Whether declarations agree on their formal times (an activity has one start and one end)."""
    from prov.constants import PROV_ATTR_ENDTIME, PROV_ATTR_STARTTIME

    for name in (PROV_ATTR_STARTTIME, PROV_ATTR_ENDTIME):
        values = {str(value) for record in records for value in record.get_attribute(name)}
        if len(values) > 1:
            return False
    return True


def merge_declarations(document: ProvDocument) -> ProvDocument:
    """``document`` with each element declared once per bundle: one declaration with the attributes and
    ``prov:type``s of all of them (equal values once), where the first of them was, with the identifier spelled as
    in the declaration whose spelling sorts first, at that declaration's place. Declarations giving an activity two different start or end
    times are left as they are (PROV cannot merge them). The document itself is not changed; without repeated
    declarations it is returned as is."""
    if not any(_repeated(bundle) for bundle in (document, *document.bundles)):
        return document
    merged = copy.deepcopy(document)
    for bundle in (merged, *merged.bundles):
        dropped: set[int] = set()
        for (_, identifier), records in _repeated(bundle).items():
            if not _mergeable(records):
                continue
            # one spelling of the identifier for all (two prefixes may name one URI): the one that sorts first,
            # so the result does not depend on the order the declarations come in
            head = min(records, key=lambda record: str(record.identifier))
            for record in (r for r in records if r is not head):
                head.add_attributes(list(record.attributes))
                dropped.add(id(record))
            bundle._id_map[identifier] = [r for r in bundle._id_map[identifier] if id(r) not in dropped]
        bundle._records = [record for record in bundle._records if id(record) not in dropped]
    return merged


_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_FLOAT_WORDS = {"nan": "NaN", "inf": "INF", "-inf": "-INF"}


def _formal_names() -> frozenset[str]:
    from prov.constants import PROV_ATTRIBUTES

    return frozenset(str(name) for name in PROV_ATTRIBUTES)


def _portable_value(value: Any) -> Any:
    """One attribute value as every reader reads it: numbers and booleans as typed values, qualified names typed
    ``prov:QUALIFIED_NAME``; strings and other typed values as they are."""
    if isinstance(value, dict):
        if value.get("type") == "xsd:QName" and "$" in value:
            value["type"] = "prov:QUALIFIED_NAME"
        return value
    if isinstance(value, bool):
        return {"$": "true" if value else "false", "type": "xsd:boolean"}
    if isinstance(value, int):
        datatype = (
            "xsd:int"
            if _INT32[0] <= value <= _INT32[1]
            else "xsd:long"
            if _INT64[0] <= value <= _INT64[1]
            else "xsd:integer"
        )
        return {"$": str(value), "type": datatype}
    if isinstance(value, float):
        return {"$": _FLOAT_WORDS.get(repr(value), repr(value)), "type": "xsd:double"}
    return value


def _wrap(name: str, value: Any, formal: frozenset[str]) -> Any:
    """An attribute's value(s) as a JSON array (ProvToolbox 2.2.1 drops or misreads single values outside one);
    formal arguments (times, element references) stay single strings."""
    if name in formal:
        return value
    values = value if isinstance(value, list) else [value]
    return [_portable_value(item) for item in values]


def _wrap_container(container: dict[str, Any], formal: frozenset[str]) -> None:
    for kind, records in container.items():
        if kind == "prefix" or not isinstance(records, dict):
            continue
        if kind == "bundle":
            for bundle in records.values():
                if isinstance(bundle, dict):
                    _wrap_container(bundle, formal)
            continue
        for declarations in records.values():
            for record in declarations if isinstance(declarations, list) else [declarations]:
                if isinstance(record, dict):
                    for name, value in record.items():
                        record[name] = _wrap(name, value, formal)


def portable_json(text: str) -> str:
    """PROV-JSON ``text`` as ``prov`` wrote it, with every attribute's values in an array, numbers and booleans as
    typed values (``{"$": "4095", "type": "xsd:int"}``) and qualified names typed ``prov:QUALIFIED_NAME``."""
    document = json.loads(text)
    _wrap_container(document, _formal_names())
    return json.dumps(document)  # as prov writes it
