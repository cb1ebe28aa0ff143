// export/bench_delete_elements: delete one batch of element nodes whose key starts with a namespace URI, with
// their relationships. Only the export benchmark uses it, on the unique namespace it created.
// Parameters: $prefix (namespace URI), $batch (nodes per call).
MATCH (n:Element)
WHERE n.key STARTS WITH $prefix
WITH n LIMIT $batch
DETACH DELETE n
