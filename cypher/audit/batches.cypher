// audit/batches: the audit batches of a document.
// Parameters: $doc.
MATCH (a:AuditBatch)
WHERE a.doc = $doc
RETURN a.key AS key, a.leaves AS leaves, a.labels AS labels, a.signature AS signature
ORDER BY key
