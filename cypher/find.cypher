// find: elements (entities, activities, agents, files) by name, path, role, value, run or kind; ids to ask with.
//
// Parameters:
//   $text    text anywhere in the id, name, label, role, path or value (case-insensitive); null: any
//   $name    the element's name exactly (an activity's `name`, else its `label`, a value's `role`, a file's name or
//            path); null: any
//   $path    a file path, or its end (`model.pkl` matches `/home/me/out/model.pkl`); null: any
//   $role    the role a value was used or generated in (`role`, one of its values if several; or the role of a
//            usage or generation of it, as other tools' PROV gives it: `used(a, e, -, [prov:role="input"])`); null: any
//   $value   a value as text (`8`, `0.5`, `adam`), one of its values if several; null: any
//   $number  the same value as a number when it is one (compared numerically); null: not a number
//   $sha256  a file's content hash (hex), as `provgraph lineage --file` computes it; null: any
//   $run     only elements of this run (docs/graph-model.md, "Runs and steps"): a run activity, its steps (the
//            activities that reach it with wasStartedBy or wasInformedBy, at most 20 levels) and the entities they
//            used or generated; a bundle, its loose steps and their entities; or a document (its id), its loose
//            steps outside bundles and their entities; the run's qualified name (`id`) or full URI (`key`), or a
//            document's id; null: every run
//   $label   only nodes with this label (Entity, Activity, Agent, File, Task, WorkflowRun, ...); null: any
//   $limit   at most this many rows
//
// Reads a run's elements when $run is given, the File label when $path or $sha256 is, else every element (one
// pass over the Element label: give a run to keep it short on a large graph); every given condition must hold.
// `ENDS WITH ('/' + $x)` is parenthesised: FalkorDB would read `a ENDS WITH b + c` as `(a ENDS WITH b) + c`.
//
// Returns one row per element, files and runs first, then by name: kind (its most specific label), id, name,
//   role, path, value, runs (the documents that declared it: for capture, the run ids), labels, key.
CALL () {
  // with a run activity (or any activity): it, the activities that reach it with wasStartedBy or wasInformedBy
  // (its steps, at most 20 levels), and their inputs and outputs
  MATCH (run:Activity)
  WHERE run.id = $run OR run.key = $run
  MATCH (n:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(run)
  RETURN n
  UNION
  MATCH (run:Activity)
  WHERE run.id = $run OR run.key = $run
  MATCH (activity:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(run)
  MATCH (activity)-[:used|wasGeneratedBy]-(n:Entity)
  RETURN n
  UNION
  // with a bundle: it, its loose steps (the activities in it that belong to no run activity, as task_tree finds
  // them) and their inputs and outputs
  MATCH (n:Bundle)
  WHERE n.id = $run OR n.key = $run
  RETURN n
  UNION
  MATCH (run:Bundle)
  WHERE run.id = $run OR run.key = $run
  MATCH (root:Activity)
  WHERE root.bundle = run.key
  WITH root
  WHERE NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
  MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
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
  WITH loose, count(owner) AS owners
  WHERE owners = 0
  RETURN loose AS n
  UNION
  MATCH (run:Bundle)
  WHERE run.id = $run OR run.key = $run
  MATCH (root:Activity)
  WHERE root.bundle = run.key
  WITH root
  WHERE NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
  MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
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
  WITH loose, count(owner) AS owners
  WHERE owners = 0
  MATCH (loose)-[:used|wasGeneratedBy]-(n:Entity)
  RETURN n
  UNION
  // with a document's id: its loose steps outside bundles, and their inputs and outputs
  MATCH (run:Document)
  WHERE run.id = $run
  MATCH (root:Activity)
  WHERE root.bundle = '' AND (run.id IN root.docs OR (size(coalesce(root.docs, [])) = 0 AND (root)-[{doc: run.id}]-()))
  WITH root
  WHERE NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
  MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
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
  WITH loose, count(owner) AS owners
  WHERE owners = 0
  RETURN loose AS n
  UNION
  MATCH (run:Document)
  WHERE run.id = $run
  MATCH (root:Activity)
  WHERE root.bundle = '' AND (run.id IN root.docs OR (size(coalesce(root.docs, [])) = 0 AND (root)-[{doc: run.id}]-()))
  WITH root
  WHERE NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
  MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
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
  WITH loose, count(owner) AS owners
  WHERE owners = 0
  MATCH (loose)-[:used|wasGeneratedBy]-(n:Entity)
  RETURN n
  UNION
  // no run, a path or content hash: files only (empty lists switch the branches off: the planner cannot skip a
  // label scan on a WHERE over parameters alone)
  UNWIND CASE WHEN $run IS NULL AND ($path IS NOT NULL OR $sha256 IS NOT NULL) THEN [true] ELSE [] END AS files
  MATCH (n:File)
  RETURN n
  UNION
  UNWIND CASE WHEN $run IS NULL AND $path IS NULL AND $sha256 IS NULL THEN [true] ELSE [] END AS everything
  MATCH (n:Element)
  RETURN n
}
// found again by key: FalkorDB does not anchor a pattern on a node a CALL subquery returned
WITH n.key AS found
MATCH (n:Element {key: found})
// other tools give a role on the usage or generation (`used(a, e, -, [prov:role="input"])`), not on the entity
// (read only when a role is asked for)
OPTIONAL MATCH (n)<-[usage:used]-()
WHERE $role IS NOT NULL
WITH n, collect(usage.role) AS used_roles
OPTIONAL MATCH (n)-[generation:wasGeneratedBy]->()
WHERE $role IS NOT NULL
WITH n, used_roles, collect(generation.role) AS generated_roles
WITH n, used_roles + generated_roles AS relation_roles
// a name, label, role or value may be a list (a multi-valued attribute, e.g. labels in two languages): each of its
// values counts (a single value is a list of one here)
WITH n, relation_roles,
     CASE WHEN n.name IS NULL THEN [] WHEN toStringOrNull(n.name) IS NULL THEN n.name ELSE [n.name] END AS name_items,
     CASE WHEN n.label IS NULL THEN [] WHEN toStringOrNull(n.label) IS NULL THEN n.label ELSE [n.label] END AS label_items,
     CASE WHEN n.role IS NULL THEN [] WHEN toStringOrNull(n.role) IS NULL THEN n.role ELSE [n.role] END AS role_items,
     CASE WHEN n.value IS NULL THEN [] WHEN toStringOrNull(n.value) IS NULL THEN n.value ELSE [n.value] END AS value_items
WITH n, name_items, label_items, role_items, value_items, relation_roles,
     [v IN CASE WHEN size(name_items) = 0 THEN label_items ELSE name_items END | toStringOrNull(v)] AS names,
     [v IN role_items | toStringOrNull(v)] AS roles
WHERE ($label IS NULL OR $label IN labels(n))
  AND ($sha256 IS NULL OR n.sha256 = $sha256)
  AND ($role IS NULL OR $role IN roles OR $role IN relation_roles)
  AND ($name IS NULL OR $name IN names OR $name IN roles OR n.path = $name OR n.path ENDS WITH ('/' + $name))
  AND ($path IS NULL OR n.path = $path OR n.path ENDS WITH ('/' + $path))
  AND ($value IS NULL OR any(v IN value_items WHERE toStringOrNull(v) = $value OR v = $number))
  AND ($text IS NULL OR toLower(n.id + reduce(words = '', v IN name_items + label_items + role_items + value_items |
       words + ' ' + coalesce(toStringOrNull(v), '')) + ' ' + coalesce(n.path, '')) CONTAINS toLower($text))
WITH n, [label IN labels(n) WHERE NOT label IN ['Element', 'Entity', 'Activity', 'Agent']] AS specific
WITH n, coalesce(specific[0], [label IN labels(n) WHERE label <> 'Element'][0], 'Element') AS kind
RETURN kind,
       n.id AS id,
       coalesce(n.name, n.label, n.role, CASE WHEN n.path IS NULL THEN null ELSE split(n.path, '/')[-1] END) AS name,
       n.role AS role,
       n.path AS path,
       n.value AS value,
       n.docs AS runs,
       [label IN labels(n) WHERE label <> 'Element'] AS labels,
       n.key AS key
ORDER BY CASE kind WHEN 'File' THEN 0 WHEN 'WorkflowRun' THEN 1 ELSE 2 END, name, id
LIMIT $limit
