// purge/delete_namespaces: delete namespace nodes by key, and the documents' Document nodes.
// Parameters: $keys (Namespace keys), $docs.
UNWIND $keys AS key
MATCH (ns:Namespace {key: key})
DELETE ns
WITH count(*) AS done
UNWIND $docs AS id
MATCH (d:Document {id: id})
DETACH DELETE d
