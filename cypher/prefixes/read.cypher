// prefixes/read: the property prefixes of the graph (docs/graph-model.md, "One prefix per namespace"), of the given
// namespace URIs, or all of them when $uris is null.
// Parameters: $uris (list of namespace URIs, or null).
// Returns: uri, prefix.
MATCH (p:PropertyPrefix)
WHERE $uris IS NULL OR p.uri IN $uris
RETURN p.uri AS uri, p.prefix AS prefix
