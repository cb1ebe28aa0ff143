// loader/count_type: how many relationships have one type ({{type}}, from the allow-list); Neo4j answers from
// its count store. Used by `provgraph status`.
// Returns: count.
MATCH ()-[r:{{type}}]->()
RETURN count(r) AS count
