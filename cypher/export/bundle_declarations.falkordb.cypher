// export/bundle_declarations: bundle nodes declared by some documents, one page in node-id order, returned as
// one row of parallel lists.
// FalkorDB form: its string index answers a range (`n.key > $after`) wrongly once keys mix upper and lower case
// (a page boundary at `.../U04999` finds none of `.../U05000` or `.../c0`, so an export stopped early, exit 0);
// the internal node id is an integer, compared and ordered consistently, so pages follow it instead.
// Parameters: $docs (list of document ids), $after (the last node id of the previous page; "" first), $page.
// Returns: cursors (node ids, ascending), decls (each node's _decl list of JSON strings).
MATCH (n:Bundle)
WHERE ($after = '' OR id(n) > $after) AND any(doc IN n.docs WHERE doc IN $docs)
WITH n
ORDER BY id(n)
LIMIT $page
RETURN collect(id(n)) AS cursors, collect(n._decl) AS decls
