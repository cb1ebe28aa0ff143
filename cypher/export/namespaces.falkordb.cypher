// export/namespaces: the prefixes stored for some documents (Namespace nodes), to rebuild their documents.
// FalkorDB form: the prefix is parenthesised (FalkorDB binds `STARTS WITH a + b AND c` as `a + (b AND c)`).
// Parameters: $docs (list of document ids).
// Returns: doc, bundle ("" for the document's own prefixes), prefix, uri.
UNWIND $docs AS doc
MATCH (n:Namespace)
WHERE n.key STARTS WITH (doc + ' ') AND n.doc = doc
RETURN n.doc AS doc, n.bundle AS bundle, n.prefix AS prefix, n.uri AS uri
