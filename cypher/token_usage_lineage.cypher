// token_usage_lineage: what a result cost end to end: LLM tokens and cost of every activity upstream of it.
//
// Parameters:
//   $ref    the result (an entity, or an activity): qualified name (`id`) or URI (`key`)
//
// The activities upstream of `ref` are those its lineage reaches (used, wasGeneratedBy, wasDerivedFrom and
// wasInformedBy edges in their direction, at most 30 relationships: a fixed bound, as lineage_upstream), and
// `ref` itself when it is an activity. Each brings its own usage and that of every activity it started
// (wasStartedBy edges, at most 20 levels): an agent step that generated an input brings the LLM calls it made.
// Each call counts once however many paths reach it. Calls are activities with token or cost attributes (see
// token_usage); cost is null when no call has one.
//
// Returns one row for the result: id, activities (how many upstream activities), calls, tokens_in, tokens_out,
//   tokens_total, cost, models (distinct model names, sorted).
MATCH (start:Element)
WHERE start.key = $ref OR start.id = $ref
OPTIONAL MATCH (start)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*0..30]->(activity:Activity)
WITH DISTINCT start, activity
OPTIONAL MATCH (call:Activity)-[:wasStartedBy*0..20]->(activity)
WHERE call.tokens_total IS NOT NULL OR call.tokens_in IS NOT NULL OR call.tokens_out IS NOT NULL
   OR call.cost IS NOT NULL
WITH start, collect(DISTINCT activity) AS activities, collect(DISTINCT call) AS calls
UNWIND CASE WHEN size(calls) = 0 THEN [null] ELSE calls END AS call
WITH start, activities, call
ORDER BY call.llm_model
WITH start, activities, collect(call) AS calls
RETURN start.id AS id,
       size(activities) AS activities,
       size(calls) AS calls,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_in, 0)) AS tokens_in,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_out, 0)) AS tokens_out,
       reduce(total = 0, c IN calls | total + coalesce(c.tokens_total, 0)) AS tokens_total,
       CASE WHEN any(c IN calls WHERE c.cost IS NOT NULL)
            THEN reduce(total = 0.0, c IN calls | total + coalesce(c.cost, 0.0)) END AS cost,
       reduce(models = [], c IN calls |
              CASE WHEN c.llm_model IS NULL OR c.llm_model IN models THEN models ELSE models + c.llm_model END)
         AS models
