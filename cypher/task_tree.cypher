// task_tree: the activities of a workflow run, each with its parent (tasks, loops, iterations, nested tasks).
//
// Parameters:
//   $run    the workflow run (or any activity): qualified name (`id`) or full URI (`key`)
//   $limit  at most this many rows
//
// Capture links every task to its parent with wasStartedBy(task, -, parent): the edge (task)-[:wasStartedBy]->
// (parent). The tree is every activity that reaches the run through such edges, at most 20 levels deep (a fixed
// bound in the pattern).
//
// Returns one row per activity, in start order: depth (1 = started by the run), id, key, name, labels, status,
// startTime, endTime, duration_s, error, parent (id of the activity that started it).
MATCH (run:Element)
WHERE run.key = $run OR run.id = $run
MATCH path = (task:Activity)-[:wasStartedBy*1..20]->(run)
WITH task, path
ORDER BY length(path)
WITH task, head(collect(path)) AS path
RETURN length(path) AS depth,
       task.id AS id,
       task.key AS key,
       task.name AS name,
       [label IN labels(task) WHERE label <> 'Element'] AS labels,
       task.status AS status,
       task.startTime AS startTime,
       task.endTime AS endTime,
       task.duration_s AS duration_s,
       task.error AS error,
       nodes(path)[1].id AS parent
ORDER BY startTime, id
LIMIT $limit
