// slowest_tasks: the tasks that took longest.
//
// Parameters:
//   $run    only tasks of this workflow run (qualified name `id` or URI `key`); null: every run
//   $limit  at most this many tasks
//
// Duration is the task's `duration_s` attribute (capture writes it from a monotonic clock); tasks without one
// are left out. A run's tasks are the activities that reach it through wasStartedBy edges (at most 20 levels).
//
// Returns one row per task, slowest first: id, key, name, duration_s, status, startTime, endTime, run (id of
//   the workflow run it belongs to).
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
WHERE task.duration_s IS NOT NULL
WITH task
ORDER BY task.duration_s DESC, task.id
LIMIT $limit
RETURN task.id AS id,
       task.key AS key,
       task.name AS name,
       task.duration_s AS duration_s,
       task.status AS status,
       task.startTime AS startTime,
       task.endTime AS endTime,
       head([(task)-[:wasStartedBy*1..20]->(run:WorkflowRun) | run.id]) AS run
ORDER BY duration_s DESC, id
