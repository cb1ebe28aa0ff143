// peak_resources: the highest memory, GPU memory and CPU use each task's telemetry recorded.
//
// Parameters:
//   $run    only tasks of this workflow run (qualified name `id` or URI `key`); null: every run
//   $limit  at most this many tasks
//
// Telemetry entities (:Telemetry, wasGeneratedBy their task; capture records one at the start and one at the end)
// carry capture's telemetry attributes (docs/telemetry.md). Peaks are maxima over a task's samples of:
//   peak_rss_bytes                process_rss_bytes, the resident memory of the task's process
//   peak_cpu_percent              process_cpu_percent, the CPU use of the task's process
//   peak_gpu_memory_bytes         the sum over devices of gpu_N_used_bytes (device memory in use, as the vendor
//                                 library reports it for the whole device, so other processes count too)
//   peak_gpu_utilization_percent  the highest gpu_N_utilization_percent of any device
//   rss_growth_bytes              peak_rss_bytes less the process's resident memory when the task started
//                                 (its `phase: start` sample): what the task itself added, where peak_rss_bytes
//                                 is the whole process's peak
// A measure no sample has is null. Tasks without telemetry are left out.
//
// Returns one row per task, highest memory first: id, key, name, run (id of its workflow run), samples,
//   peak_rss_bytes, rss_growth_bytes, peak_cpu_percent, peak_gpu_memory_bytes, peak_gpu_utilization_percent.
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
MATCH (sample:Telemetry)-[:wasGeneratedBy]->(task)
WITH task, sample,
     [name IN keys(sample) WHERE name STARTS WITH 'gpu_' AND name ENDS WITH '_used_bytes' | sample[name]] AS gpu_used,
     [name IN keys(sample) WHERE name STARTS WITH 'gpu_' AND name ENDS WITH '_utilization_percent'
                           AND NOT name ENDS WITH '_memory_utilization_percent' | sample[name]] AS gpu_busy
WITH task,
     count(sample) AS samples,
     max(sample.process_rss_bytes) AS peak_rss_bytes,
     min(CASE WHEN sample.phase = 'start' THEN sample.process_rss_bytes END) AS start_rss_bytes,
     max(sample.process_cpu_percent) AS peak_cpu_percent,
     max(CASE WHEN size(gpu_used) > 0 THEN reduce(total = 0, used IN gpu_used | total + used) END)
       AS peak_gpu_memory_bytes,
     max(CASE WHEN size(gpu_busy) > 0 THEN reduce(top = 0.0, busy IN gpu_busy |
                                                   CASE WHEN busy > top THEN busy ELSE top END) END)
       AS peak_gpu_utilization_percent
ORDER BY peak_rss_bytes DESC, task.id
LIMIT $limit
RETURN task.id AS id,
       task.key AS key,
       task.name AS name,
       head([(task)-[:wasStartedBy*1..20]->(run:WorkflowRun) | run.id]) AS run,
       samples,
       peak_rss_bytes,
       peak_rss_bytes - start_rss_bytes AS rss_growth_bytes,
       peak_cpu_percent,
       peak_gpu_memory_bytes,
       peak_gpu_utilization_percent
ORDER BY peak_rss_bytes DESC, id
