// audit/node_relationships: every relationship from or to the given nodes, with all its properties.
// Parameters: $keys.
UNWIND $keys AS key
MATCH (n:Element {key: key})-[r]->(m)
RETURN type(r) AS type, properties(r) AS props, n.key AS source_key, n.id AS source_id, m.key AS target_key,
       m.id AS target_id
UNION ALL
UNWIND $keys AS key
MATCH (m)-[r]->(n:Element {key: key})
RETURN type(r) AS type, properties(r) AS props, m.key AS source_key, m.id AS source_id, n.key AS target_key,
       n.id AS target_id
