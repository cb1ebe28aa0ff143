// similar_ids: element ids that start like a reference, the candidates for "did you mean" suggestions.
//
// Parameters:
//   $prefix  the start the ids share (e.g. `pgid:run_`)
//   $limit   at most this many ids
//
// Returns one row per element: id.
MATCH (n:Element)
WHERE n.id STARTS WITH $prefix
RETURN n.id AS id
LIMIT $limit
