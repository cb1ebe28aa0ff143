// similar_ids: element and document ids that start like a reference, the candidates for "did you mean".
//
// Parameters:
//   $prefix  the start the ids share (e.g. `pgid:run_`)
//   $limit   at most this many ids of each kind
//
// Returns one row per element or document: id.
CALL () {
  MATCH (n:Element)
  WHERE n.id STARTS WITH $prefix
  RETURN n.id AS id
  LIMIT $limit
  UNION
  MATCH (document:Document)
  WHERE document.id STARTS WITH $prefix
  RETURN document.id AS id
  LIMIT $limit
}
RETURN id
