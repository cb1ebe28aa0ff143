// delete_documents: delete up to 10,000 Document and Namespace nodes of documents whose id starts with $prefix.
//
// Parameters:
//   $prefix  the start of the document ids (a benchmark's own)
CALL () {
  MATCH (n:Document) WHERE n.id STARTS WITH $prefix RETURN n
  UNION
  MATCH (n:Namespace) WHERE n.key STARTS WITH $prefix RETURN n
}
WITH n
LIMIT 10000
DETACH DELETE n
