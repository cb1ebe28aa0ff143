// loader/count_label: how many nodes carry one label ({{label}}, from the allow-list); Neo4j answers from its
// count store. Used by `provgraph status`.
// Returns: count.
MATCH (n:{{label}})
RETURN count(n) AS count
