// delete_elements: delete up to 10,000 element nodes (with their relationships) whose key starts with $prefix.
//
// Parameters:
//   $prefix  the start of the keys (a benchmark's own namespace URI)
//
// Run it until count_elements says 0; each run is one transaction of bounded size.
MATCH (n:Element)
WHERE n.key STARTS WITH $prefix
WITH n
LIMIT 10000
DETACH DELETE n
