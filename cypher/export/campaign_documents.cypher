// export/campaign_documents: the documents that declared a campaign or one of its runs (runs are
// wasInfluencedBy the campaign, as capture writes them).
// Parameters: $campaign (the campaign's identifier as a qualified name, or its full URI).
// Returns: doc (one row per document).
MATCH (c:Campaign)
WHERE c.id = $campaign OR c.key = $campaign
OPTIONAL MATCH (run:WorkflowRun)-[:wasInfluencedBy]->(c)
WITH c, collect(run) AS runs
UNWIND [c] + runs AS element
UNWIND element.docs AS doc
RETURN DISTINCT doc
ORDER BY doc
