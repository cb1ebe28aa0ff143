// prefixes/claim: give each namespace URI its property prefix, once: a URI that has one keeps it, a prefix another
// URI holds is not taken (the caller reads back and tries the next candidate). The uniqueness constraints on
// PropertyPrefix.uri and .prefix refuse what two writers racing would otherwise both create.
// Parameters: $rows (list of {uri, prefix}).
// Returns nothing.
UNWIND $rows AS row
OPTIONAL MATCH (holder:PropertyPrefix {prefix: row.prefix})
WITH row, holder
WHERE holder IS NULL OR holder.uri = row.uri
MERGE (p:PropertyPrefix {uri: row.uri})
ON CREATE SET p.prefix = row.prefix
