// purge/delete_document: a purged document's namespaces and its Document node.
// Parameters: $doc.
OPTIONAL MATCH (ns:Namespace)
WHERE ns.doc = $doc
DETACH DELETE ns
WITH count(*) AS done
OPTIONAL MATCH (d:Document {id: $doc})
DETACH DELETE d
