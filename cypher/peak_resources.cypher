// peak_resources: the highest memory, GPU memory and CPU use each task's telemetry recorded.
//
// Parameters:
//   $run    only tasks of this workflow run (qualified name `id` or URI `key`); null: every run
//   $limit  at most this many tasks
//
// Telemetry entities (:Telemetry, wasGeneratedBy their task; phase "start" and "end") carry capture's telemetry
// attributes. Peaks are the maximum over a task's samples of: process_rss_bytes (resident memory of the
// process); the sum over GPUs of every gpu_*memory_used_bytes attribute (GPU memory in use); cpu_percent.
// A measure no sample has is null. Tasks without telemetry are left out.
//
// Returns one row per task, highest memory first: id, key, name, run (id of its workflow run), samples,
//   peak_rss_bytes, peak_gpu_memory_bytes, peak_cpu_percent.
OPTIONAL MATCH (scope:Element)
WHERE scope.key = $run OR scope.id = $run
CALL {
  WITH scope
  MATCH (task:Task)-[:wasStartedBy*1..20]->(scope)
  RETURN task
  UNION
  WITH scope
  // an empty list when a run is given: the planner cannot skip a label scan on a WHERE over parameters alone
  UNWIND CASE WHEN scope IS NULL AND $run IS NULL THEN [true] ELSE [] END AS every_run
  MATCH (task:Task)
  RETURN task
}
WITH DISTINCT task
MATCH (sample:Telemetry)-[:wasGeneratedBy]->(task)
WITH task, sample,
     [name IN keys(sample) WHERE name STARTS WITH 'gpu' AND name ENDS WITH 'memory_used_bytes' | sample[name]] AS gpu
WITH task,
     count(sample) AS samples,
     max(sample.process_rss_bytes) AS peak_rss_bytes,
     max(CASE WHEN size(gpu) > 0 THEN reduce(total = 0, used IN gpu | total + used) END) AS peak_gpu_memory_bytes,
     max(sample.cpu_percent) AS peak_cpu_percent
ORDER BY peak_rss_bytes DESC, task.id
LIMIT $limit
RETURN task.id AS id,
       task.key AS key,
       task.name AS name,
       head([(task)-[:wasStartedBy*1..20]->(run:WorkflowRun) | run.id]) AS run,
       samples,
       peak_rss_bytes,
       peak_gpu_memory_bytes,
       peak_cpu_percent
ORDER BY peak_rss_bytes DESC, id
