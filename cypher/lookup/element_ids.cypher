// element_ids: which of the given references are in the graph (the check behind "unknown id" errors).
//
// Parameters:
//   $refs   the references: qualified names (`id`) or full URIs (`key`) of elements, or documents' ids
//
// Returns one row per reference: ref, id (the element's qualified name or the document's id; null when neither
//   has it).
UNWIND $refs AS ref
OPTIONAL MATCH (n:Element)
WHERE n.id = ref OR n.key = ref
OPTIONAL MATCH (document:Document {id: ref})
WITH ref, collect(n.id) + collect(document.id) AS ids
RETURN ref, ids[0] AS id
