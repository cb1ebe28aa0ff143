// purge/strip_payloads: --keep-lineage: a node's large payload attributes removed from its convenience
// properties (`gone` maps each to null, which removes it) and from its stored declarations; `payload_purged` set.
// Parameters: $rows (list of {key, decl: the new declarations, gone: {name: null, ...}}).
UNWIND $rows AS row
MATCH (n:Element {key: row.key})
SET n += row.gone
SET n._decl = row.decl, n.payload_purged = true
