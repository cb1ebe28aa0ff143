// loader/merge_relations: relation records of one relationship type ({{type}}, from the allow-list), each one
// relationship keyed by its statement key. Ends that are not declared (yet) are created as undeclared elements.
// Parameters: $rows (list of {source, target: node keys; source_props, target_props: {id, uri, bundle,
//   declared: false, docs: []} for a node created here; sk; props: relationship properties incl. _rec}).
UNWIND $rows AS row
MERGE (s:Element {key: row.source})
ON CREATE SET s += row.source_props
MERGE (t:Element {key: row.target})
ON CREATE SET t += row.target_props
MERGE (s)-[r:{{type}} {sk: row.sk}]->(t)
ON CREATE SET r += row.props
