// export/known_nodes: the declarations of the given element nodes and the relation records some documents stated
// from them, found through the key index (no scan): what `provgraph roundtrip` reads back, since it knows every
// node its documents wrote or referenced. Every relationship leaves the node of its subject (or its bundle's
// placeholder), so reading the outgoing ones of every node finds each once.
// Parameters: $keys (element node keys), $docs (document ids).
// Returns: one row per node: decls (its _decl list), rels (list of {doc, rec} of its outgoing relationships of the
// documents).
UNWIND $keys AS key
MATCH (n:Element {key: key})
OPTIONAL MATCH (n)-[r]->()
WHERE r.doc IN $docs
RETURN n._decl AS decls, [rel IN collect(r) | {doc: rel.doc, rec: rel._rec}] AS rels
