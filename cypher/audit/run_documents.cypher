// audit/run_documents: the documents that declared a workflow run.
// Parameters: $run (qualified name or URI).
MATCH (run:WorkflowRun)
WHERE run.id = $run OR run.key = $run
RETURN coalesce(run.docs, []) AS docs
