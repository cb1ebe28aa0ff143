// export/element_declarations: element nodes declared by some documents, one page, in key order (index seek).
// Parameters: $docs (list of document ids), $after (the last cursor of the previous page; "" first), $page.
// Returns: cursor (the node key), decls (its _decl list of JSON strings; the caller keeps its documents' ones).
MATCH (n:Element)
WHERE n.key > $after AND any(doc IN n.docs WHERE doc IN $docs)
RETURN n.key AS cursor, n._decl AS decls
ORDER BY n.key
LIMIT $page
