// runs: workflow runs, newest first, with the number of their tasks by status.
//
// Parameters:
//   $workflow  only runs with this workflow name (`name`); null: every run
//   $limit     at most this many runs
//
// A run's tasks are the activities that reach it through wasStartedBy edges (at most 20 levels: a fixed bound).
// Capture writes status FINISHED or ERROR; other values count in `other`.
//
// Returns one row per run: id, key, workflow (its name), startTime, endTime, status (the run's own, if recorded),
//   tasks, finished, failed, other (counts of its activities by status).
CALL {
  MATCH (run:WorkflowRun)
  WHERE run.name = $workflow
  RETURN run
  UNION
  // an empty list when a workflow is given: the planner cannot skip a label scan on a WHERE over parameters alone
  UNWIND CASE WHEN $workflow IS NULL THEN [true] ELSE [] END AS every_run
  MATCH (run:WorkflowRun)
  RETURN run
}
WITH run
ORDER BY run.startTime DESC, run.id
LIMIT $limit
OPTIONAL MATCH (task:Activity)-[:wasStartedBy*1..20]->(run)
WITH run, collect(DISTINCT task) AS tasks
RETURN run.id AS id,
       run.key AS key,
       run.name AS workflow,
       run.startTime AS startTime,
       run.endTime AS endTime,
       run.status AS status,
       size(tasks) AS tasks,
       size([task IN tasks WHERE task.status = 'FINISHED']) AS finished,
       size([task IN tasks WHERE task.status = 'ERROR']) AS failed,
       size([task IN tasks WHERE task.status IS NULL OR NOT task.status IN ['FINISHED', 'ERROR']]) AS other
ORDER BY startTime DESC, id
