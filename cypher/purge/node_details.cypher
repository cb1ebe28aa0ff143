// purge/node_details: what the purge needs to decide each node's fate (deleted, kept for other documents, or
// kept as a reference other documents' relations use), and for --keep-lineage its payload.
// Parameters: $keys.
// Returns one row per node: key, id, uri, bundle, docs, decl, decl_sk, telemetry, relationship_docs (documents
//   of its relationships), payload (map of value, head, stdout, stderr, prompt, response).
UNWIND $keys AS key
MATCH (n:Element {key: key})
OPTIONAL MATCH (n)-[r]-()
WITH n, collect(DISTINCT r.doc) AS relationship_docs
RETURN n.key AS key, n.id AS id, n.uri AS uri, n.bundle AS bundle, n.docs AS docs, n._decl AS decl,
       n._decl_sk AS decl_sk, n:Telemetry AS telemetry, relationship_docs,
       {value: n.value, head: n.head, stdout: n.stdout, stderr: n.stderr, prompt: n.prompt, response: n.response}
         AS payload
