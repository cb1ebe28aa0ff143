// failed_tasks: tasks that ended in an error, with the inputs they were given.
//
// Parameters:
//   $run    only tasks of this workflow run (qualified name `id` or URI `key`); null: every run
//   $limit  at most this many tasks
//
// A failed task has status "ERROR" (capture writes it with the exception in `error`). A run's tasks are the
// activities that reach it through wasStartedBy edges (at most 20 levels: a fixed bound).
//
// Returns one row per failed task, newest first (by the instant it started, whatever its offset): id, key, name, error, startTime, endTime, run (id of the
//   workflow run it belongs to), inputs (list of {id, role, value, path}: what it used).
OPTIONAL MATCH (scope:Element)
WHERE scope.key = $run OR scope.id = $run
CALL (scope) {
  MATCH (task:Task)-[:wasStartedBy*1..20]->(scope)
  RETURN task
  UNION
  // an empty list when a run is given: the planner cannot skip a label scan on a WHERE over parameters alone
  UNWIND CASE WHEN scope IS NULL AND $run IS NULL THEN [true] ELSE [] END AS every_run
  MATCH (task:Task)
  RETURN task
}
WITH DISTINCT task
WHERE task.status = 'ERROR'
WITH task
ORDER BY task._utc_startTime DESC, task.startTime DESC, task.id
LIMIT $limit
RETURN task.id AS id,
       task.key AS key,
       task.name AS name,
       task.error AS error,
       task.startTime AS startTime,
       task.endTime AS endTime,
       head([(task)-[:wasStartedBy*1..20]->(run:WorkflowRun) | run.id]) AS run,
       [(task)-[usage:used]->(input) | {id: input.id, role: coalesce(usage.role, input.role), value: input.value,
                                        path: input.path}] AS inputs
