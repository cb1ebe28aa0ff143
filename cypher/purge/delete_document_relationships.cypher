// purge/delete_document_relationships: delete the relationships any of the documents recorded from or to the
// given nodes (every relationship touches the nodes of both its ends, so the nodes a document's rows wrote or
// referenced find all of its relationships through the key index, without a scan).
// Parameters: $keys (node keys), $docs.
UNWIND $keys AS key
MATCH (n:Element {key: key})-[r]-()
WHERE r.doc IN $docs
WITH DISTINCT r
DELETE r
