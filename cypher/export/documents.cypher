// export/documents: the stored documents among $ids (all of them when $ids is null), in id order.
// Parameters: $ids (list of document ids, or null for every document).
// Returns: doc.
MATCH (d:Document)
WHERE $ids IS NULL OR d.id IN $ids
RETURN d.id AS doc
ORDER BY d.id
