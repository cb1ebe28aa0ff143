// shared_entities_graph: the cross-workflow join as a graph: entities a run shares with other runs, for Neo4j
// Browser.
//
// Parameters:
//   $run    the workflow run: qualified name (`id`) or full URI (`key`)
//
// The graph form of shared_entities: each entity that an activity of this run used or generated and an
// activity of another run did too (files are one node per content hash), with both activities and both runs.
// Telemetry entities are left out.
//
// Returns paths: run <- activity - entity - other activity -> other run.
MATCH (run:Element)
WHERE run.key = $run OR run.id = $run
MATCH here = (activity:Activity)-[:wasStartedBy*0..20]->(run)
MATCH (activity)-[edge:used|wasGeneratedBy]-(entity:Entity)
WHERE NOT entity:Telemetry
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
MATCH there = (other_activity)-[:wasStartedBy*0..20]->(other_run:WorkflowRun)
WHERE other_run <> run
RETURN here, edge, other_edge, there
LIMIT 200
