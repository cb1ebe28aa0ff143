// find: elements (entities, activities, agents, files) by name, path, role, value, run or kind; ids to ask with.
//
// Parameters:
//   $text    text anywhere in the id, name, role, path or value (case-insensitive); null: any
//   $name    the element's name exactly (an activity's `name`, a value's `role`, a file's name or path); null: any
//   $path    a file path, or its end (`model.pkl` matches `/home/me/out/model.pkl`); null: any
//   $role    the role a value was used or generated in (`role`); null: any
//   $value   a value as text (`8`, `0.5`, `adam`); null: any
//   $number  the same value as a number when it is one (compared numerically); null: not a number
//   $sha256  a file's content hash (hex), as `provgraph lineage --file` computes it; null: any
//   $run     only elements of this run: the run itself, the activities it started (wasStartedBy, at most 20
//            levels), the entities they used or generated, and what the run's document declared; the run's
//            qualified name (`id`) or full URI (`key`); null: every run
//   $label   only nodes with this label (Entity, Activity, Agent, File, Task, WorkflowRun, ...); null: any
//   $limit   at most this many rows
//
// Scans elements (one pass over the Element label); every given condition must hold. `ENDS WITH ('/' + $x)` is
// parenthesised: FalkorDB would read `a ENDS WITH b + c` as `(a ENDS WITH b) + c`.
//
// Returns one row per element, files and runs first, then by name: kind (its most specific label), id, name,
//   role, path, value, runs (the documents that declared it: for capture, the run ids), labels, key.
OPTIONAL MATCH (run:Element)
WHERE run.id = $run OR run.key = $run
OPTIONAL MATCH (activity:Activity)-[:wasStartedBy*0..20]->(run)
OPTIONAL MATCH (activity)-[:used|wasGeneratedBy]-(entity:Entity)
WITH run, collect(DISTINCT activity.key) + collect(DISTINCT entity.key) AS members
MATCH (n:Element)
WHERE ($label IS NULL OR $label IN labels(n))
  AND ($run IS NULL OR n.key IN members OR run.id IN n.docs)
  AND ($sha256 IS NULL OR n.sha256 = $sha256)
  AND ($role IS NULL OR n.role = $role)
  AND ($name IS NULL OR n.name = $name OR n.role = $name OR n.path = $name OR n.path ENDS WITH ('/' + $name))
  AND ($path IS NULL OR n.path = $path OR n.path ENDS WITH ('/' + $path))
  AND ($value IS NULL OR toStringOrNull(n.value) = $value OR n.value = $number)
  AND ($text IS NULL OR toLower(n.id + ' ' + coalesce(n.name, '') + ' ' + coalesce(n.role, '') + ' '
       + coalesce(n.path, '') + ' ' + coalesce(toStringOrNull(n.value), '')) CONTAINS toLower($text))
WITH n, [label IN labels(n) WHERE NOT label IN ['Element', 'Entity', 'Activity', 'Agent']] AS specific
WITH n, coalesce(specific[0], [label IN labels(n) WHERE label <> 'Element'][0], 'Element') AS kind
RETURN kind,
       n.id AS id,
       coalesce(n.name, n.role, CASE WHEN n.path IS NULL THEN null ELSE split(n.path, '/')[-1] END) AS name,
       n.role AS role,
       n.path AS path,
       n.value AS value,
       n.docs AS runs,
       [label IN labels(n) WHERE label <> 'Element'] AS labels,
       n.key AS key
ORDER BY CASE kind WHEN 'File' THEN 0 WHEN 'WorkflowRun' THEN 1 ELSE 2 END, name, id
LIMIT $limit
