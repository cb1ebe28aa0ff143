// audit/undeclared_neighbours: nodes joined to the given ones by a relationship with no record, that no record
// accounts for either: not an element node, or marked declared without any declaration.
// Parameters: $keys.
UNWIND $keys AS key
MATCH (n:Element {key: key})-[r]-(m)
WHERE r._rec IS NULL
  AND (NOT m:Element OR (size(coalesce(m._decl, [])) = 0 AND coalesce(m.declared, true) = true))
RETURN DISTINCT m.key AS key, m.id AS id, labels(m) AS labels
