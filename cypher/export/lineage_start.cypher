// export/lineage_start: the element an upstream-lineage export starts from.
// Parameters: $entity (identifier as a qualified name, or its full URI / node key).
// Returns: key (one row per matching node; an identifier declared in several bundles gives several).
MATCH (n:Element)
WHERE n.id = $entity OR n.key = $entity
RETURN n.key AS key
