// audit/namespaces: a document's stored namespaces.
// Parameters: $doc.
MATCH (ns:Namespace)
WHERE ns.doc = $doc
RETURN ns.prefix AS prefix, ns.uri AS uri, ns.bundle AS bundle
