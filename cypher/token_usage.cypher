// token_usage: LLM tokens and cost rolled up over a workflow run, or over one task and everything it started.
//
// Parameters:
//   $ref    the run or activity (qualified name `id` or URI `key`): its whole task tree is summed
//
// An LLM call is an activity with token or cost attributes (`tokens_in`, `tokens_out`, `tokens_total`, `cost`):
// what `capture.agent_task` reads from a provider response and `capture.record_llm_call` writes (docs/tokens.md).
// The scope's calls are the activity itself and every activity that reaches it through wasStartedBy edges (at
// most 20 levels: a fixed bound), each counted once. A missing count adds nothing; cost is null when no call
// has one.
//
// Returns one row for the scope: id, calls (how many calls have usage), tokens_in, tokens_out, tokens_total,
//   cost, models (the distinct model names, sorted).
MATCH (scope:Element)
WHERE scope.key = $ref OR scope.id = $ref
OPTIONAL MATCH (call:Activity)-[:wasStartedBy*0..20]->(scope)
WHERE call.tokens_total IS NOT NULL OR call.tokens_in IS NOT NULL OR call.tokens_out IS NOT NULL
   OR call.cost IS NOT NULL
WITH DISTINCT scope, call
ORDER BY call.llm_model
WITH scope, collect(call) AS calls
RETURN scope.id AS id,
       size(calls) AS calls,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_in, 0)) AS tokens_in,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_out, 0)) AS tokens_out,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_total, 0)) AS tokens_total,
       CASE WHEN any(c IN calls WHERE c.cost IS NOT NULL)
            THEN reduce(total = 0.0, c IN calls | total + coalesce(c.cost, 0.0)) END AS cost,
       reduce(models = [], c IN calls |
              CASE WHEN c.llm_model IS NULL OR c.llm_model IN models THEN models ELSE models + c.llm_model END)
         AS models
