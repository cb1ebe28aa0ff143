// loader/merge_references: the elements relations reference, one label at a time ({{label}}: the kind the
// reference's position implies, or Element when it implies none; from the allow-list). A missing node is created
// undeclared (export leaves it out); an existing one only gains the label.
// Parameters: $rows (list of {key, props: {id, uri, bundle, declared: false, docs: []}}), keys distinct.
UNWIND $rows AS row
MERGE (n:Element {key: row.key})
ON CREATE SET n += row.props
SET n:{{label}}
