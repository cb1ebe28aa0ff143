// export/bundle_declarations: bundle nodes declared by some documents, one page in key order, as one row of
// parallel lists.
// Parameters: $docs (list of document ids), $after (the last key of the previous page; "" first), $page.
// Returns: cursors (node keys, ascending), decls (each node's _decl list of JSON strings).
MATCH (n:Bundle)
WHERE n.key > $after AND any(doc IN n.docs WHERE doc IN $docs)
WITH n
ORDER BY n.key
LIMIT $page
RETURN collect(n.key) AS cursors, collect(n._decl) AS decls
