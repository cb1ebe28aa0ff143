// entity_runs: every run that used or generated an entity (which runs and workflows share it).
//
// Parameters:
//   $ref    the entity: qualified name (`id`) or full URI (`key`)
//   $limit  at most this many rows
//
// Runs and steps follow the rule in docs/graph-model.md ("Runs and steps", the same in every run query): a run
// is a run activity (capture's WorkflowRun, or an activity that others point to with wasStartedBy or
// wasInformedBy, that points to none itself and neither used nor generated an entity), whose steps reach it
// through such edges (at most 20 levels); or a bundle, or a document, for its activities that belong to no run
// activity.
// Follows the entity's used and wasGeneratedBy edges to activities, then to the runs those activities belong to.
//
// Returns one row per (run, activity, relation): run (id), workflow (its name or label), run_start, activity
//   (id), activity_name (name, else label), relation (used or wasGeneratedBy), role.
MATCH (entity:Element)
WHERE entity.key = $ref OR entity.id = $ref
MATCH (entity)-[edge:used|wasGeneratedBy]-(activity:Activity)
WITH activity, type(edge) AS relation, edge.role AS role
OPTIONAL MATCH (activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH relation, role, activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT activity:Campaign AND activity.bundle <> '' AND bundle.key = activity.bundle
WITH relation, role, activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT activity:Campaign AND activity.bundle = '' AND (document.id IN activity.docs OR (size(coalesce(activity.docs, [])) = 0 AND (activity)-[{doc: document.id}]-()))
WITH relation, role, activity, owners, bundles, collect(document) AS documents
WITH relation, role, activity, owners + bundles + documents AS activity_runs
UNWIND activity_runs AS run
WITH DISTINCT run, activity, relation, role
// by the instant of the run's start (docs/graph-model.md, "Date-times"), else its text; the order stays for RETURN
ORDER BY run._utc_startTime, run.startTime, run.id, activity.id, relation
LIMIT $limit
RETURN run.id AS run,
       coalesce(run.name, run.label) AS workflow,
       run.startTime AS run_start,
       activity.id AS activity,
       coalesce(activity.name, activity.label) AS activity_name,
       relation,
       role
