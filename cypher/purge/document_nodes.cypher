// purge/document_nodes: the element nodes some documents declared (one scan of the Element label: a node's
// documents are a list, which no index covers), with what the dry run shows.
// Parameters: $docs.
// Returns one row per node: key, id, docs, telemetry (whether it is a pg:Telemetry entity).
MATCH (n:Element)
WHERE any(doc IN n.docs WHERE doc IN $docs)
RETURN n.key AS key, n.id AS id, n.docs AS docs, n:Telemetry AS telemetry
