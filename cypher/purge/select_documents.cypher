// purge/select_documents: stored documents by id (imported files, or a run's document named directly).
// Parameters: $docs (document ids).
// Returns one row per document that exists: id.
MATCH (d:Document)
WHERE d.id IN $docs
RETURN d.id AS id
ORDER BY id
