// tail/since: runs and activities the graph holds that started at or after a time, for `provgraph tail --since`.
//
// Parameters:
//   $since     ISO 8601 UTC lexical time (`2026-01-01T00:00:00.000000Z`)
//   $since_us  the same instant in microseconds since the epoch: compared with `_utc_startTime`, the instant
//              of `startTime` whatever its offset (docs/graph-model.md, "Date-times"); text order is not time
//              order once offsets differ. An activity loaded before the companions existed is compared as text.
//   $run       only this run and its activities; null: any
//   $workflow  only runs of this workflow name (and their activities); null: any
//   $campaigns only runs of one of these campaigns (`campaign` attribute) and their activities; null: any
//   $limit     at most this many activities
//
// A task belongs to the run it reaches through wasStartedBy edges (at most 20 levels).
//
// Returns one row per activity, oldest first: id, labels, name, kind, status, startTime, startTime_utc (microseconds
//   since the epoch), endTime, duration_s,
//   error, run, workflow, campaign, tokens_in, tokens_out, tokens_total, cost, llm_model, inputs and outputs
//   (lists of {id, role, value, path}), samples, peak_rss_bytes, peak_cpu_percent (from its telemetry).
MATCH (activity:Activity)
WHERE coalesce(activity._utc_startTime >= $since_us, activity.startTime >= $since) AND NOT activity:Campaign
OPTIONAL MATCH (activity)-[:wasStartedBy*1..20]->(owner:WorkflowRun)
WITH activity, CASE WHEN activity:WorkflowRun THEN activity ELSE owner END AS run
WHERE run IS NOT NULL
  AND ($run IS NULL OR run.id = $run OR run.key = $run)
  AND ($workflow IS NULL OR run.name = $workflow)
  AND ($campaigns IS NULL OR run.campaign IN $campaigns OR activity.campaign IN $campaigns)
WITH DISTINCT activity, run
ORDER BY activity._utc_startTime, activity.startTime, activity.id
LIMIT $limit
OPTIONAL MATCH (sample:Telemetry)-[:wasGeneratedBy]->(activity)
WITH activity, run, count(sample) AS samples, max(sample.process_rss_bytes) AS peak_rss_bytes,
     max(coalesce(sample.process_cpu_percent, sample.cpu_percent)) AS peak_cpu_percent
RETURN activity.id AS id,
       [label IN labels(activity) WHERE label <> 'Element'] AS labels,
       activity.name AS name,
       activity.kind AS kind,
       activity.status AS status,
       activity.startTime AS startTime,
       activity._utc_startTime AS startTime_utc,
       activity.endTime AS endTime,
       activity.duration_s AS duration_s,
       activity.error AS error,
       run.id AS run,
       run.name AS workflow,
       coalesce(activity.campaign, run.campaign) AS campaign,
       activity.tokens_in AS tokens_in,
       activity.tokens_out AS tokens_out,
       activity.tokens_total AS tokens_total,
       activity.cost AS cost,
       activity.llm_model AS llm_model,
       [(activity)-[u:used]->(input) | {id: input.id, role: u.role, value: input.value, path: input.path}] AS inputs,
       [(output)-[g:wasGeneratedBy]->(activity) WHERE NOT output:Telemetry |
        {id: output.id, role: g.role, value: output.value, path: output.path}] AS outputs,
       samples,
       peak_rss_bytes,
       peak_cpu_percent
ORDER BY startTime_utc, startTime, id
