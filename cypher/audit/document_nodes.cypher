// audit/document_nodes: every element node a document declared, with all its properties (one scan of the
// Element label).
// Parameters: $doc.
MATCH (n:Element)
WHERE $doc IN n.docs
RETURN n.key AS key, n.id AS id, n.docs AS docs, n._decl AS decl, properties(n) AS props
ORDER BY key
