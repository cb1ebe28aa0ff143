// shared_entities_graph: the cross-workflow join as a graph: entities a run shares with other runs, for Neo4j
// Browser.
//
// Parameters:
//   $run    the run: qualified name (`id`) or full URI (`key`) of a run activity, a bundle, or a document's id
//
// The graph form of shared_entities, with the same rule for runs and steps (docs/graph-model.md, "Runs and
// steps"): each entity that a step of this run (or the run activity itself) used or generated and an activity of
// another run did too, with both activities and both runs. Telemetry entities are left out.
//
// Returns one row per (activity, entity, other activity, other run): run, activity, edge, entity, other_edge,
//   other_activity, other_run (nodes and relationships; Browser connects them).
MATCH (run:Element)
WHERE (run.key = $run OR run.id = $run) AND run:Activity
WITH run
OPTIONAL MATCH path = (step:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
WITH run, step, path
ORDER BY length(path)
WITH run, step, head(collect(path)) AS path
WITH run, step, length(path) AS depth, nodes(path)[1].id AS parent
WITH DISTINCT run, step
WITH run, collect(step) + [run] AS activities
UNWIND activities AS activity
MATCH (activity)-[edge:used|wasGeneratedBy]-(entity:Entity)
WHERE NOT entity:Telemetry
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
WHERE other_activity <> activity
WITH run, activity, edge, entity, other_edge, other_activity
OPTIONAL MATCH (other_activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, activity, edge, entity, other_edge, other_activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle <> '' AND bundle.key = other_activity.bundle
WITH run, activity, edge, entity, other_edge, other_activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle = '' AND (document.id IN other_activity.docs OR (size(coalesce(other_activity.docs, [])) = 0 AND (other_activity)-[{doc: document.id}]-()))
WITH run, activity, edge, entity, other_edge, other_activity, owners, bundles, collect(document) AS documents
WITH run, activity, edge, entity, other_edge, other_activity, owners + bundles + documents AS other_activity_runs
UNWIND other_activity_runs AS other_run
WITH run, activity, edge, entity, other_edge, other_activity, other_run
WHERE other_run <> run
RETURN run, activity, edge, entity, other_edge, other_activity, other_run
LIMIT 200
UNION
// a bundle: its loose steps (from its loose roots down, reaching no run activity)
MATCH (run:Element)
WHERE (run.key = $run OR run.id = $run) AND run:Bundle
WITH run
MATCH (root:Activity)
WHERE root.bundle = run.key
  AND NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
OPTIONAL MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
WHERE loose.bundle = root.bundle AND NOT (loose:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(loose)
             AND NOT (loose)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (loose)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(loose)))
OPTIONAL MATCH (loose)-[:wasStartedBy|wasInformedBy*1..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, loose, count(owner) AS owners
WITH run, loose AS step, 1 AS depth, run.id AS parent, owners
WHERE step IS NOT NULL AND owners = 0
WITH DISTINCT run, step
WITH run, collect(step) AS activities
UNWIND activities AS activity
MATCH (activity)-[edge:used|wasGeneratedBy]-(entity:Entity)
WHERE NOT entity:Telemetry
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
WHERE other_activity <> activity
WITH run, activity, edge, entity, other_edge, other_activity
OPTIONAL MATCH (other_activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, activity, edge, entity, other_edge, other_activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle <> '' AND bundle.key = other_activity.bundle
WITH run, activity, edge, entity, other_edge, other_activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle = '' AND (document.id IN other_activity.docs OR (size(coalesce(other_activity.docs, [])) = 0 AND (other_activity)-[{doc: document.id}]-()))
WITH run, activity, edge, entity, other_edge, other_activity, owners, bundles, collect(document) AS documents
WITH run, activity, edge, entity, other_edge, other_activity, owners + bundles + documents AS other_activity_runs
UNWIND other_activity_runs AS other_run
WITH run, activity, edge, entity, other_edge, other_activity, other_run
WHERE other_run <> run
RETURN run, activity, edge, entity, other_edge, other_activity, other_run
LIMIT 200
UNION
// a document: its loose steps outside bundles
MATCH (run:Document)
WHERE run.id = $run
WITH run
MATCH (root:Activity)
WHERE root.bundle = '' AND (run.id IN root.docs OR (size(coalesce(root.docs, [])) = 0 AND (root)-[{doc: run.id}]-()))
  AND NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
OPTIONAL MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
WHERE loose.bundle = root.bundle AND NOT (loose:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(loose)
             AND NOT (loose)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (loose)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(loose)))
OPTIONAL MATCH (loose)-[:wasStartedBy|wasInformedBy*1..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, loose, count(owner) AS owners
WITH run, loose AS step, 1 AS depth, run.id AS parent, owners
WHERE step IS NOT NULL AND owners = 0
WITH DISTINCT run, step
WITH run, collect(step) AS activities
UNWIND activities AS activity
MATCH (activity)-[edge:used|wasGeneratedBy]-(entity:Entity)
WHERE NOT entity:Telemetry
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
WHERE other_activity <> activity
WITH run, activity, edge, entity, other_edge, other_activity
OPTIONAL MATCH (other_activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, activity, edge, entity, other_edge, other_activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle <> '' AND bundle.key = other_activity.bundle
WITH run, activity, edge, entity, other_edge, other_activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle = '' AND (document.id IN other_activity.docs OR (size(coalesce(other_activity.docs, [])) = 0 AND (other_activity)-[{doc: document.id}]-()))
WITH run, activity, edge, entity, other_edge, other_activity, owners, bundles, collect(document) AS documents
WITH run, activity, edge, entity, other_edge, other_activity, owners + bundles + documents AS other_activity_runs
UNWIND other_activity_runs AS other_run
WITH run, activity, edge, entity, other_edge, other_activity, other_run
WHERE other_run <> run
RETURN run, activity, edge, entity, other_edge, other_activity, other_run
LIMIT 200
