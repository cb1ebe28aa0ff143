// count_documents: how many Document and Namespace nodes belong to documents whose id starts with $prefix.
//
// Parameters:
//   $prefix  the start of the document ids (a benchmark's own)
//
// Returns one row: n.
CALL () {
  MATCH (n:Document) WHERE n.id STARTS WITH $prefix RETURN n
  UNION
  MATCH (n:Namespace) WHERE n.key STARTS WITH $prefix RETURN n
}
RETURN count(n) AS n
