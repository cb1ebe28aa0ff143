// purge/delete_unused_references: undeclared element nodes (created only because a relation referenced them)
// that no relationship uses any more.
// Parameters: $keys (candidates).
UNWIND $keys AS key
MATCH (n:Element {key: key})
WHERE n.declared = false
OPTIONAL MATCH (n)-[r]-()
WITH n, count(r) AS relationships
WHERE relationships = 0
DELETE n
