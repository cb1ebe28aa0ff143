// audit/merge_batches: the leaves of one loader transaction's records, one AuditBatch per document, keyed by
// content (a redelivered message adds nothing). Written in the loader's transaction when audit_digests is on.
// Parameters: $rows (list of {key, doc, leaves, labels, signature}).
UNWIND $rows AS row
MERGE (a:AuditBatch {key: row.key})
ON CREATE SET a.doc = row.doc, a.leaves = row.leaves, a.labels = row.labels, a.signature = row.signature
