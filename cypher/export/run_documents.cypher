// export/run_documents: the documents that declared a workflow run (when the run's document is not named by
// the run's id).
// Parameters: $run (the run's identifier as a qualified name, or its full URI).
// Returns: doc (one row per document).
MATCH (run:WorkflowRun)
WHERE run.id = $run OR run.key = $run
UNWIND run.docs AS doc
RETURN DISTINCT doc
ORDER BY doc
