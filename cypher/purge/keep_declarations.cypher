// purge/keep_declarations: nodes other documents declared too keep only those documents' declarations.
// Parameters: $rows (list of {key, docs, decl, decl_sk}).
UNWIND $rows AS row
MATCH (n:Element {key: row.key})
SET n.docs = row.docs, n._decl = row.decl, n._decl_sk = row.decl_sk
