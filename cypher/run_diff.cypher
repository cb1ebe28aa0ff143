// run_diff: the steps of two runs with what each did (its name, place in the task tree, inputs, outputs and
// parameters): what `Client.diff` / `provgraph diff` pairs and compares (provgraph/diff.py).
//
// Parameters:
//   $run_a  the earlier (baseline) run: `id` or `key` of a run activity or bundle, or a document's id
//   $run_b  the later run: `id` or `key`
//   $limit  at most this many steps (over both runs)
//
// Runs and steps follow the rule in docs/graph-model.md ("Runs and steps", the same in every run query): a run
// is a run activity (capture's WorkflowRun, or an activity that others point to with wasStartedBy or
// wasInformedBy, that points to none itself and neither used nor generated an entity), whose steps reach it
// through such edges (at most 20 levels); or a bundle, or a document, for its activities that belong to no run
// activity. Three branches, one per kind of run: only the branch matching a run yields its rows.
//
// A step's inputs are its used edges and its outputs its wasGeneratedBy edges (telemetry left out), each as
// {role, key, id, content}: role is the prov:role of the usage or generation (else the entity's role, else "");
// content is the entity's `value`, else its `sha256` (files), else its `fingerprint`, else its `json` (capture's
// lists and maps), else null (nothing to compare but its identity). Parameters are the step's own attributes outside the pg: and prov: namespaces
// (`prefix:local` properties), as [name, value] pairs.
//
// Returns one row per step, by side (0 = $run_a, 1 = $run_b), then start: side, id, key, name (name, else
//   label), depth, parent (id), startTime, status, parameters, inputs, outputs.
UNWIND [[0, $run_a], [1, $run_b]] AS side_ref
MATCH (run:Element)
WHERE (run.key = side_ref[1] OR run.id = side_ref[1]) AND run:Activity
WITH side_ref[0] AS side, run
MATCH path = (step:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
WITH side, run, step, path
ORDER BY length(path)
WITH side, run, step, head(collect(path)) AS path
WITH side, step, length(path) AS depth, nodes(path)[1].id AS parent
WITH DISTINCT side, step, depth, parent
ORDER BY side, step._utc_startTime, step.startTime, step.id
LIMIT $limit
RETURN side,
       step.id AS id,
       step.key AS key,
       coalesce(step.name, step.label) AS name,
       depth,
       parent,
       step.startTime AS startTime,
       step.status AS status,
       [attribute IN keys(step) WHERE attribute CONTAINS ':' | [attribute, step[attribute]]] AS parameters,
       [(step)-[usage:used]->(input) |
        {role: coalesce(usage.role, input.role, ''), key: input.key, id: input.id,
         content: coalesce(input.value, input.sha256, input.fingerprint, input.json)}] AS inputs,
       [(output)-[generation:wasGeneratedBy]->(step) WHERE NOT output:Telemetry |
        {role: coalesce(generation.role, output.role, ''), key: output.key, id: output.id,
         content: coalesce(output.value, output.sha256, output.fingerprint, output.json)}] AS outputs
UNION
// bundle runs: their loose steps
UNWIND [[0, $run_a], [1, $run_b]] AS side_ref
MATCH (run:Element)
WHERE (run.key = side_ref[1] OR run.id = side_ref[1]) AND run:Bundle
WITH side_ref[0] AS side, run
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
WITH side, run, loose, count(owner) AS owners
WITH side, loose AS step, 1 AS depth, run.id AS parent, owners
WHERE step IS NOT NULL AND owners = 0
WITH DISTINCT side, step, depth, parent
ORDER BY side, step._utc_startTime, step.startTime, step.id
LIMIT $limit
RETURN side,
       step.id AS id,
       step.key AS key,
       coalesce(step.name, step.label) AS name,
       depth,
       parent,
       step.startTime AS startTime,
       step.status AS status,
       [attribute IN keys(step) WHERE attribute CONTAINS ':' | [attribute, step[attribute]]] AS parameters,
       [(step)-[usage:used]->(input) |
        {role: coalesce(usage.role, input.role, ''), key: input.key, id: input.id,
         content: coalesce(input.value, input.sha256, input.fingerprint, input.json)}] AS inputs,
       [(output)-[generation:wasGeneratedBy]->(step) WHERE NOT output:Telemetry |
        {role: coalesce(generation.role, output.role, ''), key: output.key, id: output.id,
         content: coalesce(output.value, output.sha256, output.fingerprint, output.json)}] AS outputs
UNION
// document runs: their loose steps outside bundles
UNWIND [[0, $run_a], [1, $run_b]] AS side_ref
MATCH (run:Document)
WHERE run.id = side_ref[1]
WITH side_ref[0] AS side, run
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
WITH side, run, loose, count(owner) AS owners
WITH side, loose AS step, 1 AS depth, run.id AS parent, owners
WHERE step IS NOT NULL AND owners = 0
WITH DISTINCT side, step, depth, parent
ORDER BY side, step._utc_startTime, step.startTime, step.id
LIMIT $limit
RETURN side,
       step.id AS id,
       step.key AS key,
       coalesce(step.name, step.label) AS name,
       depth,
       parent,
       step.startTime AS startTime,
       step.status AS status,
       [attribute IN keys(step) WHERE attribute CONTAINS ':' | [attribute, step[attribute]]] AS parameters,
       [(step)-[usage:used]->(input) |
        {role: coalesce(usage.role, input.role, ''), key: input.key, id: input.id,
         content: coalesce(input.value, input.sha256, input.fingerprint, input.json)}] AS inputs,
       [(output)-[generation:wasGeneratedBy]->(step) WHERE NOT output:Telemetry |
        {role: coalesce(generation.role, output.role, ''), key: output.key, id: output.id,
         content: coalesce(output.value, output.sha256, output.fingerprint, output.json)}] AS outputs
