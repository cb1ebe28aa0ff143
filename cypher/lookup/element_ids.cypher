// element_ids: which of the given references are in the graph (the check behind "unknown id" errors), and which
// name more than one element.
//
// Parameters:
//   $refs   the references: qualified names (`id`) or full URIs (`key`) of elements, or documents' ids
//
// Returns one row per reference: ref, id (the element's qualified name or the document's id; null when neither
//   has it), elements (how many element nodes it names: a qualified name names several when the same identifier
//   is declared at the top level and in a bundle, or in several bundles, each its own node), by_key (whether it
//   is one element's full key), keys (up to 5 of the keys of the elements it names).
UNWIND $refs AS ref
OPTIONAL MATCH (n:Element)
WHERE n.id = ref OR n.key = ref
OPTIONAL MATCH (document:Document {id: ref})
WITH ref, collect(n.id) + collect(document.id) AS ids, collect(DISTINCT n.key) AS keys
RETURN ref, ids[0] AS id, size(keys) AS elements, any(key IN keys WHERE key = ref) AS by_key, keys[0..5] AS keys
