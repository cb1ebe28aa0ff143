// task_tree: the steps of a run, each with its parent (tasks, loops, iterations, nested tasks; or the steps of
// a run from another PROV tool).
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
// A step's depth and parent come from its shortest such path (capture: wasStartedBy(task, -, parent), the edge
// (task)-[:wasStartedBy]->(parent)); the steps of a bundle or document run have depth 1 and the run as parent.
//
// Three branches, one per kind of run (a UNION: only the branch matching $run yields rows, so a run activity
// never pays for a scan of loose activities).
//
// Returns one row per step, in start order: depth (1 = directly in the run), id, key, name (name, else label),
//   labels, status, startTime, endTime, duration_s, error, parent (id of the activity, bundle or document above).
MATCH (run:Element)
WHERE (run.key = $run OR run.id = $run) AND run:Activity
WITH run
MATCH path = (step:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
WITH run, step, path
ORDER BY length(path)
WITH run, step, head(collect(path)) AS path
WITH run, step, length(path) AS depth, nodes(path)[1].id AS parent
WITH depth, step, parent
ORDER BY step._utc_startTime, step.startTime, step.id
LIMIT $limit
RETURN depth,
       step.id AS id,
       step.key AS key,
       coalesce(step.name, step.label) AS name,
       [label IN labels(step) WHERE label <> 'Element'] AS labels,
       step.status AS status,
       step.startTime AS startTime,
       step.endTime AS endTime,
       step.duration_s AS duration_s,
       step.error AS error,
       parent
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
WITH depth, step, parent
ORDER BY step._utc_startTime, step.startTime, step.id
LIMIT $limit
RETURN depth,
       step.id AS id,
       step.key AS key,
       coalesce(step.name, step.label) AS name,
       [label IN labels(step) WHERE label <> 'Element'] AS labels,
       step.status AS status,
       step.startTime AS startTime,
       step.endTime AS endTime,
       step.duration_s AS duration_s,
       step.error AS error,
       parent
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
WITH depth, step, parent
ORDER BY step._utc_startTime, step.startTime, step.id
LIMIT $limit
RETURN depth,
       step.id AS id,
       step.key AS key,
       coalesce(step.name, step.label) AS name,
       [label IN labels(step) WHERE label <> 'Element'] AS labels,
       step.status AS status,
       step.startTime AS startTime,
       step.endTime AS endTime,
       step.duration_s AS duration_s,
       step.error AS error,
       parent
