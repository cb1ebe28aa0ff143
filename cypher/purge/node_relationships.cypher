// purge/node_relationships: per document, the relationships it recorded from or to the given nodes, and the
// keys of undeclared nodes at their other ends (deleted once nothing uses them).
// Parameters: $keys (node keys), $docs.
// Returns one row per document with such relationships: doc, relationships, undeclared.
UNWIND $keys AS key
MATCH (n:Element {key: key})-[r]-(other)
WHERE r.doc IN $docs AND r.doc IN n.docs
WITH DISTINCT r, other
RETURN r.doc AS doc, count(DISTINCT r) AS relationships,
       collect(DISTINCT CASE WHEN other.declared = false THEN other.key END) AS undeclared
