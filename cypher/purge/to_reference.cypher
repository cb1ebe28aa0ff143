// purge/to_reference: a node only the purged document declared, still used by relations of other documents,
// becomes an undeclared reference (its attributes go; export does not declare it).
// Parameters: $rows (list of {key, props}: key, id, uri, bundle, declared false, docs []).
UNWIND $rows AS row
MATCH (n:Element {key: row.key})
SET n = row.props
