// entity_runs: every workflow run that used or generated an entity (which runs and workflows share it).
//
// Parameters:
//   $ref    the entity: qualified name (`id`) or full URI (`key`)
//   $limit  at most this many rows
//
// Follows the entity's used and wasGeneratedBy edges to activities, then wasStartedBy edges (at most 20 levels)
// up to their workflow run.
//
// Returns one row per (run, activity, relation): run (id), workflow (its name), run_start, activity (id),
//   activity_name, relation (used or wasGeneratedBy), role.
MATCH (entity:Element)
WHERE entity.key = $ref OR entity.id = $ref
MATCH (entity)-[edge:used|wasGeneratedBy]-(activity:Activity)
MATCH (activity)-[:wasStartedBy*0..20]->(run:WorkflowRun)
RETURN DISTINCT run.id AS run,
       run.name AS workflow,
       run.startTime AS run_start,
       activity.id AS activity,
       activity.name AS activity_name,
       type(edge) AS relation,
       edge.role AS role
ORDER BY run_start, run, activity, relation
LIMIT $limit
