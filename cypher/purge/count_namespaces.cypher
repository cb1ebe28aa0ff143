// purge/count_namespaces: how many namespace nodes each document has.
// Parameters: $docs.
// Returns one row per document with namespaces: doc, namespaces.
MATCH (ns:Namespace)
WHERE ns.doc IN $docs
RETURN ns.doc AS doc, count(ns) AS namespaces
