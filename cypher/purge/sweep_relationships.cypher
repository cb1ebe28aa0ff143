// purge/sweep_relationships: delete the relationships a document recorded between nodes it did not declare (a
// scan of all relationships; run only when purge/stray_relationships found some).
// Parameters: $doc.
MATCH (a)-[r]->(b)
WHERE r.doc = $doc AND NOT $doc IN coalesce(a.docs, []) AND NOT $doc IN coalesce(b.docs, [])
DELETE r
