// shared_entities: the cross-workflow join: entities a run shares with other runs (of any workflow).
//
// Parameters:
//   $run    the run: qualified name (`id`) or full URI (`key`) of a run activity, a bundle, or a document's id
//   $limit  at most this many rows
//
// Runs and steps follow the rule in docs/graph-model.md ("Runs and steps", the same in every run query): a run
// is a run activity (capture's WorkflowRun, or an activity that others point to with wasStartedBy or
// wasInformedBy, that points to none itself and neither used nor generated an entity), whose steps reach it
// through such edges (at most 20 levels); or a bundle, or a document, for its activities that belong to no run
// activity.
// An entity is shared when the run (a run activity itself, or one of its steps) used or generated it, and an
// activity of another run did too. Capture's files are one node per content hash, so the same file read by two
// runs is one shared node; so is any entity that several documents declare with the same identifier. Telemetry
// entities are left out.
//
// Returns one row per (entity, other run): entity (id), entity_key, name (name, path, label, role or id),
//   labels, relation (used or wasGeneratedBy, in this run), other_run (id), other_workflow (its name or label),
//   other_relation (used or wasGeneratedBy, in the other run).
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
WITH DISTINCT run, entity, type(edge) AS relation
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
WITH run, entity, relation, other_activity, type(other_edge) AS other_relation
OPTIONAL MATCH (other_activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, entity, relation, other_relation, other_activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle <> '' AND bundle.key = other_activity.bundle
WITH run, entity, relation, other_relation, other_activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle = '' AND (document.id IN other_activity.docs OR (size(coalesce(other_activity.docs, [])) = 0 AND (other_activity)-[{doc: document.id}]-()))
WITH run, entity, relation, other_relation, other_activity, owners, bundles, collect(document) AS documents
WITH run, entity, relation, other_relation, other_activity, owners + bundles + documents AS other_activity_runs
UNWIND other_activity_runs AS other_run
WITH DISTINCT run, entity, relation, other_relation, other_run
WHERE other_run <> run
WITH entity, relation, other_relation, other_run
ORDER BY entity.id, other_run.id, relation, other_relation
LIMIT $limit
RETURN entity.id AS entity,
       entity.key AS entity_key,
       coalesce(entity.name, entity.path, entity.label, entity.role, entity.id) AS name,
       [label IN labels(entity) WHERE label <> 'Element'] AS labels,
       relation,
       other_run.id AS other_run,
       coalesce(other_run.name, other_run.label) AS other_workflow,
       other_relation
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
WITH DISTINCT run, entity, type(edge) AS relation
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
WITH run, entity, relation, other_activity, type(other_edge) AS other_relation
OPTIONAL MATCH (other_activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, entity, relation, other_relation, other_activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle <> '' AND bundle.key = other_activity.bundle
WITH run, entity, relation, other_relation, other_activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle = '' AND (document.id IN other_activity.docs OR (size(coalesce(other_activity.docs, [])) = 0 AND (other_activity)-[{doc: document.id}]-()))
WITH run, entity, relation, other_relation, other_activity, owners, bundles, collect(document) AS documents
WITH run, entity, relation, other_relation, other_activity, owners + bundles + documents AS other_activity_runs
UNWIND other_activity_runs AS other_run
WITH DISTINCT run, entity, relation, other_relation, other_run
WHERE other_run <> run
WITH entity, relation, other_relation, other_run
ORDER BY entity.id, other_run.id, relation, other_relation
LIMIT $limit
RETURN entity.id AS entity,
       entity.key AS entity_key,
       coalesce(entity.name, entity.path, entity.label, entity.role, entity.id) AS name,
       [label IN labels(entity) WHERE label <> 'Element'] AS labels,
       relation,
       other_run.id AS other_run,
       coalesce(other_run.name, other_run.label) AS other_workflow,
       other_relation
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
WITH DISTINCT run, entity, type(edge) AS relation
MATCH (entity)-[other_edge:used|wasGeneratedBy]-(other_activity:Activity)
WITH run, entity, relation, other_activity, type(other_edge) AS other_relation
OPTIONAL MATCH (other_activity)-[:wasStartedBy|wasInformedBy*0..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, entity, relation, other_relation, other_activity, collect(DISTINCT owner) AS owners
OPTIONAL MATCH (bundle:Bundle)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle <> '' AND bundle.key = other_activity.bundle
WITH run, entity, relation, other_relation, other_activity, owners, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE size(owners) = 0 AND NOT other_activity:Campaign AND other_activity.bundle = '' AND (document.id IN other_activity.docs OR (size(coalesce(other_activity.docs, [])) = 0 AND (other_activity)-[{doc: document.id}]-()))
WITH run, entity, relation, other_relation, other_activity, owners, bundles, collect(document) AS documents
WITH run, entity, relation, other_relation, other_activity, owners + bundles + documents AS other_activity_runs
UNWIND other_activity_runs AS other_run
WITH DISTINCT run, entity, relation, other_relation, other_run
WHERE other_run <> run
WITH entity, relation, other_relation, other_run
ORDER BY entity.id, other_run.id, relation, other_relation
LIMIT $limit
RETURN entity.id AS entity,
       entity.key AS entity_key,
       coalesce(entity.name, entity.path, entity.label, entity.role, entity.id) AS name,
       [label IN labels(entity) WHERE label <> 'Element'] AS labels,
       relation,
       other_run.id AS other_run,
       coalesce(other_run.name, other_run.label) AS other_workflow,
       other_relation
