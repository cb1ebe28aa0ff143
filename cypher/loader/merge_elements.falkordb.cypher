// loader/merge_elements: element (and bundle) declarations of one kind label and one subtype label (the same
// label twice when there is no subtype). Labels come from the allow-list. A declaration whose statement key the
// node already lists changes nothing, so a redelivered record is a no-op.
// FalkorDB form: when a MERGE inside UNWIND creates a node, FalkorDB hands the rows for that key to the next
// clauses out of order (a later declaration would lose to an earlier one). So the nodes are merged first,
// the count closes that step, and a second pass over the rows, in order, applies the declarations.
// Several declarations of one element merge (PROV-DM 5.7.3): attributes are set over the earlier ones (a later
// value of the same attribute wins), prov:types are united, in order of first appearance.
// Parameters: $rows (list of {key, sk, doc, decl: JSON of {doc, sk, r}, types: prov:type values,
// props: the other convenience properties}).
UNWIND $rows AS created
MERGE (:Element {key: created.key})
WITH count(*) AS merged
UNWIND $rows AS row
MATCH (n:Element {key: row.key})
SET n:{{label}}:{{subtype}}
WITH n, row
WHERE NOT row.sk IN coalesce(n._decl_sk, [])
SET n += row.props,
    n.types = CASE WHEN size(row.types) = 0 THEN n.types
                   ELSE coalesce(n.types, []) + [t IN row.types WHERE NOT t IN coalesce(n.types, [])] END,
    n.declared = true,
    n._decl = coalesce(n._decl, []) + row.decl,
    n._decl_sk = coalesce(n._decl_sk, []) + row.sk,
    n.docs = CASE WHEN row.doc IN coalesce(n.docs, []) THEN n.docs ELSE coalesce(n.docs, []) + row.doc END
