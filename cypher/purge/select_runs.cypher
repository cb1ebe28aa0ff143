// purge/select_runs: the workflow runs a purge would take, with the documents that hold their records.
// Parameters: $runs (run ids or URIs; null: any), $workflow (run name; null: any), $campaigns (campaign ids as
// a run's `campaign` attribute holds them; null: any), $before (ISO UTC lexical time: runs that ended, or started
// when they have no end, before it; null: any age), $before_us (the same instant in microseconds since the epoch,
// compared with the instants `_utc_endTime`/`_utc_startTime` whatever the times' offsets, docs/graph-model.md
// "Date-times"; a run loaded before those existed is compared as text).
// Returns one row per run, oldest first: id, workflow, startTime, startTime_utc, endTime, docs.
MATCH (run:WorkflowRun)
WHERE ($runs IS NULL OR run.id IN $runs OR run.key IN $runs)
  AND ($workflow IS NULL OR run.name = $workflow)
  AND ($campaigns IS NULL OR run.campaign IN $campaigns)
  AND ($before IS NULL
       OR coalesce(coalesce(run._utc_endTime, run._utc_startTime) < $before_us,
                   coalesce(run.endTime, run.startTime) < $before))
RETURN run.id AS id, run.name AS workflow, run.startTime AS startTime, run._utc_startTime AS startTime_utc,
       run.endTime AS endTime, coalesce(run.docs, []) AS docs
ORDER BY startTime_utc, startTime, id
