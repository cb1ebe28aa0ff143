// slowest_tasks: the tasks that took longest.
//
// Parameters:
//   $run    only tasks of this workflow run (qualified name `id` or URI `key`); null: every run
//   $kind   `task` (work itself), or `iteration` (one pass of a capture.Loop: a wrapper around the tasks run in
//           it, as long as they are together); null: both, told apart by the `kind` column
//   $limit  at most this many tasks
//
// Duration is the task's `duration_s` attribute (capture writes it from a monotonic clock); tasks without one
// are left out. A run's tasks are the activities that reach it through wasStartedBy edges (at most 20 levels).
// A loop iteration is a task with an `iteration` attribute (its position in the loop).
//
// Returns one row per task, slowest first: id, key, name, kind (task or iteration), duration_s, status,
//   startTime, endTime, run (id of the workflow run it belongs to).
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
WITH DISTINCT task, CASE WHEN task.iteration IS NULL THEN 'task' ELSE 'iteration' END AS kind
WHERE task.duration_s IS NOT NULL AND ($kind IS NULL OR kind = $kind)
WITH task, kind
ORDER BY task.duration_s DESC, task.id
LIMIT $limit
RETURN task.id AS id,
       task.key AS key,
       task.name AS name,
       kind,
       task.duration_s AS duration_s,
       task.status AS status,
       task.startTime AS startTime,
       task.endTime AS endTime,
       head([(task)-[:wasStartedBy*1..20]->(run:WorkflowRun) | run.id]) AS run
ORDER BY duration_s DESC, id
