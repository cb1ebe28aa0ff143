// loader/merge_namespaces: the prefixes a document (or one of its bundles) declares, for export.
// Parameters: $rows (list of {key: doc + " " + bundle + " " + prefix, props: {doc, bundle, prefix, uri}}).
UNWIND $rows AS row
MERGE (n:Namespace {key: row.key})
SET n += row.props
