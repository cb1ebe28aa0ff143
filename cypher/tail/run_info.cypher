// tail/run_info: the workflow name and campaign of a run, for tail lines of runs announced before the tail began.
//
// Parameters:
//   $run  the run id (a message's document)
//
// Returns at most one row: workflow, campaign.
MATCH (run:WorkflowRun)
WHERE run.id = $run OR run.key = $run
RETURN run.name AS workflow, run.campaign AS campaign
LIMIT 1
