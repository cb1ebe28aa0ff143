// export/bench_remaining: how many element nodes still have a key under a namespace URI.
// Parameters: $prefix (namespace URI). Returns: remaining.
MATCH (n:Element)
WHERE n.key STARTS WITH $prefix
RETURN count(n) AS remaining
