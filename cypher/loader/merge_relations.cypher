// loader/merge_relations: relation records of one relationship type ({{type}}, from the allow-list), each one
// relationship keyed by its statement key, between element nodes that exist already (loader/merge_elements and
// loader/merge_references run first in the same transaction). A known statement key changes nothing.
// Parameters: $rows (list of {source, target: node keys; sk; props: relationship properties incl. _rec}).
UNWIND $rows AS row
MATCH (s:Element {key: row.source})
MATCH (t:Element {key: row.target})
MERGE (s)-[r:{{type}} {sk: row.sk}]->(t)
ON CREATE SET r += row.props
