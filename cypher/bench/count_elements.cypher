// count_elements: how many element nodes have a key starting with $prefix (a benchmark's own namespace).
//
// Parameters:
//   $prefix  the start of the keys (a namespace URI no one else uses)
//
// Returns one row: n.
MATCH (n:Element)
WHERE n.key STARTS WITH $prefix
RETURN count(n) AS n
