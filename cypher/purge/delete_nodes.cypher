// purge/delete_nodes: delete element nodes by key (they have no relationships left).
// Parameters: $keys.
UNWIND $keys AS key
MATCH (n:Element {key: key})
DETACH DELETE n
