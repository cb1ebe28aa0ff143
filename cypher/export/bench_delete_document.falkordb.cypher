// export/bench_delete_document: delete a document's Document and Namespace nodes (the export benchmark's own).
// FalkorDB form: the prefix is parenthesised (FalkorDB binds `STARTS WITH a + b AND c` as `a + (b AND c)`).
// Parameters: $doc.
OPTIONAL MATCH (ns:Namespace)
WHERE ns.key STARTS WITH ($doc + ' ') AND ns.doc = $doc
DETACH DELETE ns
WITH count(*) AS done
OPTIONAL MATCH (d:Document {id: $doc})
DETACH DELETE d
