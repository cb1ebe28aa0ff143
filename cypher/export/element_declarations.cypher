// export/element_declarations: element nodes declared by some documents, one page in key order (an index seek on
// the element_key constraint), returned as one row of parallel lists (far fewer driver records than a row each).
// Parameters: $docs (list of document ids), $after (the last key of the previous page; "" first), $page.
// Returns: cursors (node keys, ascending), decls (each node's _decl list of JSON strings; the caller keeps the
//   declarations of its documents).
MATCH (n:Element)
WHERE n.key > $after AND any(doc IN n.docs WHERE doc IN $docs)
WITH n
ORDER BY n.key
LIMIT $page
RETURN collect(n.key) AS cursors, collect(n._decl) AS decls
