// prefixes/taken: the property prefixes held that a candidate would collide with: each base itself and its numbered
// forms (base_2, base_3, ...).
// Parameters: $bases (list of candidate prefixes).
// Returns: prefix.
UNWIND $bases AS base
MATCH (p:PropertyPrefix)
WHERE p.prefix = base OR p.prefix STARTS WITH (base + "_")
RETURN DISTINCT p.prefix AS prefix
