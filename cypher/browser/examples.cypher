// examples: ids from the graph to fill Neo4j Browser's guide with (each null when the graph has none).
//
// Parameters: none.
//
// Runs are found by the rule of every run query (docs/graph-model.md, "Runs and steps"): a run activity is
// capture's workflow run (label WorkflowRun), or an activity that other activities point to with wasStartedBy or
// wasInformedBy, that points to no activity that way itself and neither used nor generated an entity (PROV from
// other tools: the provenance challenge's runs, linked to their steps by wasInformedBy); its steps reach it
// through wasStartedBy/wasInformedBy edges. Without any run activity, a document is the run (its activities).
//
// Looks at the 20 most recent run activities (by startTime) and picks: the most recent one with a derived output
// (run, run_name), the output of its last step that was derived from something (a lineage worth drawing), an
// input of that run that no activity generated (a raw input whose impact is worth following), and the most
// recent run that shares an entity with another run (shared_run). Bounded: it reads the run activities, then at
// most 1,000 steps of each of the 20 newest runs (a bench run may have a million) and, for the shared run, 50
// activities per entity, never every element.
//
// Returns one row: run, run_name, output, input, shared_run.
OPTIONAL CALL () {
  MATCH (run:Activity)
  WHERE NOT run:Task AND NOT run:Loop
    AND (run:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(run)
             AND NOT (run)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (run)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(run)))
  WITH run
  ORDER BY run.startTime IS NULL, run._utc_startTime IS NULL, run._utc_startTime DESC, run.startTime DESC
  LIMIT 20
  CALL (run) {
    MATCH (task:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
    WITH DISTINCT task
    LIMIT 1000
    MATCH (output:Entity)-[:wasGeneratedBy]->(task)
    WHERE NOT output:Telemetry AND (output)-[:wasDerivedFrom]->()
    RETURN output
    ORDER BY task._utc_endTime IS NULL, task._utc_endTime DESC, task.endTime DESC, output.id
    LIMIT 1
  }
  RETURN run, output
  ORDER BY run.startTime IS NULL, run._utc_startTime IS NULL, run._utc_startTime DESC, run.startTime DESC
  LIMIT 1
}
OPTIONAL CALL (run) {
  WITH run
  WHERE run IS NULL
  MATCH (document:Document)
  WITH document
  ORDER BY document.id
  LIMIT 20
  MATCH (output:Entity)-[:wasGeneratedBy]->(task:Activity)
  WHERE document.id IN task.docs AND NOT output:Telemetry AND (output)-[:wasDerivedFrom]->()
  RETURN document, output AS document_output
  ORDER BY task._utc_endTime IS NULL, task._utc_endTime DESC, task.endTime DESC, output.id
  LIMIT 1
}
WITH coalesce(run, document) AS run, coalesce(output, document_output) AS output
OPTIONAL CALL (run) {
  MATCH (task:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
  WITH DISTINCT task
  LIMIT 1000
  MATCH (task)-[:used]->(input:Entity)
  WHERE NOT input:Telemetry AND NOT (input)-[:wasGeneratedBy]->()
  RETURN input
  ORDER BY task._utc_startTime, task.startTime, input.id
  LIMIT 1
  UNION
  MATCH (task:Activity)-[:used]->(input:Entity)
  WHERE run:Document AND run.id IN task.docs AND NOT input:Telemetry AND NOT (input)-[:wasGeneratedBy]->()
  RETURN input
  ORDER BY task._utc_startTime, task.startTime, input.id
  LIMIT 1
}
OPTIONAL CALL () {
  MATCH (recent:Activity)
  WHERE NOT recent:Task AND NOT recent:Loop
    AND (recent:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(recent)
             AND NOT (recent)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (recent)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(recent)))
  WITH recent
  ORDER BY recent.startTime IS NULL, recent._utc_startTime IS NULL, recent._utc_startTime DESC, recent.startTime DESC
  LIMIT 20
  CALL (recent) {
    MATCH (task:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(recent)
    WITH DISTINCT task
    LIMIT 1000
    MATCH (task)-[:used|wasGeneratedBy]-(entity:Entity)
    WHERE NOT entity:Telemetry
    WITH DISTINCT entity
    LIMIT 1000
    CALL (entity, recent) {
      MATCH (entity)-[:used|wasGeneratedBy]-(step:Activity)
      WITH step
      LIMIT 50
      MATCH (step)-[:wasStartedBy|wasInformedBy*1..20]->(other:Activity)
      WITH DISTINCT other
      WHERE other <> recent AND NOT other:Task AND NOT other:Loop
        AND (other:WorkflowRun
             OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(other)
                 AND NOT (other)-[:wasStartedBy|wasInformedBy]->(:Activity)
                 AND NOT (other)-[:used]->()
                 AND NOT ()-[:wasGeneratedBy]->(other)))
      RETURN other
      LIMIT 1
    }
    RETURN other
    LIMIT 1
  }
  RETURN recent AS shared
  ORDER BY recent.startTime IS NULL, recent._utc_startTime IS NULL, recent._utc_startTime DESC, recent.startTime DESC
  LIMIT 1
}
RETURN run.id AS run, coalesce(run.name, run.label, run.id) AS run_name, output.id AS output, input.id AS input,
       shared.id AS shared_run
