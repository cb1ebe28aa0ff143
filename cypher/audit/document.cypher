// audit/document: whether a stored document exists.
// Parameters: $doc.
MATCH (d:Document {id: $doc})
RETURN d.id AS id
