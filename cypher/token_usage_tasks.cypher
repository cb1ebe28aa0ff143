// token_usage_tasks: LLM tokens and cost per step of a workflow run, each step with everything it started.
//
// Parameters:
//   $run    the workflow run (or any activity): qualified name (`id`) or URI (`key`)
//   $limit  at most this many steps
//
// The steps are the activities that reach the run through wasStartedBy edges (at most 20 levels: a fixed bound),
// as in task_tree. For each, `own_*` is the usage recorded on the activity itself and the other figures roll up
// the activity and every activity below it (an agent step with the LLM calls it made). Calls are activities with
// token or cost attributes (see token_usage); cost is null when no call in the subtree has one.
//
// Returns one row per step, most tokens first (then id): id, name, depth (1 = started by the run), parent (id of
//   the activity that started it), own_tokens_total, calls, tokens_in, tokens_out, tokens_total, cost.
MATCH (run:Element)
WHERE run.key = $run OR run.id = $run
MATCH path = (step:Activity)-[:wasStartedBy*1..20]->(run)
WITH step, path
ORDER BY length(path)
WITH step, head(collect(path)) AS path
OPTIONAL MATCH (call:Activity)-[:wasStartedBy*0..20]->(step)
WHERE call.tokens_total IS NOT NULL OR call.tokens_in IS NOT NULL OR call.tokens_out IS NOT NULL
   OR call.cost IS NOT NULL
WITH step, path, collect(DISTINCT call) AS calls
WITH step, path, calls, reduce(total = 0, c IN calls | total + coalesce(c.tokens_total, 0)) AS tokens_total
ORDER BY tokens_total DESC, step.id
LIMIT $limit
RETURN step.id AS id,
       step.name AS name,
       length(path) AS depth,
       nodes(path)[1].id AS parent,
       step.tokens_total AS own_tokens_total,
       size(calls) AS calls,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_in, 0)) AS tokens_in,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_out, 0)) AS tokens_out,
       tokens_total,
       CASE WHEN any(c IN calls WHERE c.cost IS NOT NULL)
            THEN reduce(total = 0.0, c IN calls | total + coalesce(c.cost, 0.0)) END AS cost
ORDER BY tokens_total DESC, id
