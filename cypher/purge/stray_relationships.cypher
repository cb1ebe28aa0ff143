// purge/stray_relationships: relationships the documents recorded between nodes none of them declared (a scan
// of all relationships, once per purge), with the keys of their undeclared ends.
// Parameters: $docs.
// Returns one row per document with such relationships: doc, relationships, undeclared.
MATCH (a)-[r]->(b)
WHERE r.doc IN $docs AND NOT r.doc IN coalesce(a.docs, []) AND NOT r.doc IN coalesce(b.docs, [])
RETURN r.doc AS doc, count(r) AS relationships,
       collect(CASE WHEN a.declared = false THEN a.key END) + collect(CASE WHEN b.declared = false THEN b.key END)
         AS undeclared
