// loader/merge_documents: one Document node per document id (idempotent).
// Parameters: $ids (list of document ids).
UNWIND $ids AS id
MERGE (:Document {id: id})
