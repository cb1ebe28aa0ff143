// examples: ids from the graph to fill Neo4j Browser's guide with (each null when the graph has none).
//
// Parameters: none.
//
// Looks at the 20 most recent workflow runs (by startTime) and picks: the most recent one with a derived output
// (run, run_name), the output of its last task that was derived from something (a lineage worth drawing), an
// input of that run that no activity generated (a raw input whose impact is worth following), and the most
// recent run that shares an entity with another run (shared_run). Bounded: it never scans the whole graph.
//
// Returns one row: run, run_name, output, input, shared_run.
OPTIONAL CALL () {
  MATCH (run:WorkflowRun)
  WITH run
  ORDER BY run.startTime DESC
  LIMIT 20
  MATCH (output:Entity)-[:wasGeneratedBy]->(task:Activity)-[:wasStartedBy*0..20]->(run)
  WHERE NOT output:Telemetry AND EXISTS { (output)-[:wasDerivedFrom]->() }
  RETURN run, output
  ORDER BY run.startTime DESC, task.endTime DESC, output.id
  LIMIT 1
}
OPTIONAL CALL (run) {
  MATCH (run)<-[:wasStartedBy*0..20]-(task:Activity)-[:used]->(input:Entity)
  WHERE NOT input:Telemetry AND NOT EXISTS { (input)-[:wasGeneratedBy]->() }
  RETURN input
  ORDER BY task.startTime, input.id
  LIMIT 1
}
OPTIONAL CALL () {
  MATCH (recent:WorkflowRun)
  WITH recent
  ORDER BY recent.startTime DESC
  LIMIT 20
  MATCH (recent)<-[:wasStartedBy*0..20]-(:Activity)-[:used|wasGeneratedBy]-(entity:Entity)
  WHERE NOT entity:Telemetry
  MATCH (entity)-[:used|wasGeneratedBy]-(:Activity)-[:wasStartedBy*0..20]->(other:WorkflowRun)
  WHERE other <> recent
  RETURN recent AS shared
  ORDER BY recent.startTime DESC
  LIMIT 1
}
RETURN run.id AS run, run.name AS run_name, output.id AS output, input.id AS input, shared.id AS shared_run
