// element_ids: which of the given references are elements in the graph (the check behind "unknown id" errors).
//
// Parameters:
//   $refs   the references: qualified names (`id`) or full URIs (`key`)
//
// Returns one row per reference: ref, id (the element's qualified name; null when no element has it).
UNWIND $refs AS ref
OPTIONAL MATCH (n:Element)
WHERE n.id = ref OR n.key = ref
WITH ref, collect(n.id) AS ids
RETURN ref, ids[0] AS id
