// shared_entities: the cross-workflow join: entities a run shares with other runs (of any workflow).
//
// Parameters:
//   $run    the workflow run: qualified name (`id`) or full URI (`key`)
//   $limit  at most this many rows
//
// An entity is shared when an activity of this run (the run itself or an activity reaching it through
// wasStartedBy edges, at most 20 levels) used or generated it, and an activity of another run did too. Files
// are one node per content hash, so the same file read by two runs is one shared node; so is any entity that
// several documents declare with the same identifier. Telemetry entities are left out.
//
// Returns one row per (entity, other run): entity (id), entity_key, name (name, path, label, role or id),
//   labels, relation (used or wasGeneratedBy, in this run), other_run (id), other_workflow (its name),
//   other_relation (used or wasGeneratedBy, in the other run).
MATCH (run:Element)
WHERE run.key = $run OR run.id = $run
MATCH (activity:Activity)-[:wasStartedBy*0..20]->(run)
MATCH (activity)-[edge:used|wasGeneratedBy]-(entity:Entity)
WHERE NOT entity:Telemetry
WITH DISTINCT run, entity, type(edge) AS relation
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
MATCH (other_activity)-[:wasStartedBy*0..20]->(other_run:WorkflowRun)
WHERE other_run <> run
RETURN DISTINCT entity.id AS entity,
       entity.key AS entity_key,
       coalesce(entity.name, entity.path, entity.label, entity.role, entity.id) AS name,
       [label IN labels(entity) WHERE label <> 'Element'] AS labels,
       relation,
       other_run.id AS other_run,
       other_run.name AS other_workflow,
       type(other_edge) AS other_relation
ORDER BY entity, other_run, relation, other_relation
LIMIT $limit
