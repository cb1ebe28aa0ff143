// purge/delete_relationships: delete the relationships a document recorded from or to the given nodes.
// Parameters: $keys (node keys), $doc.
UNWIND $keys AS key
MATCH (n:Element {key: key})-[r]-()
WHERE r.doc = $doc
WITH DISTINCT r
DELETE r
