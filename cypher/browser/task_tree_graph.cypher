// task_tree_graph: a workflow run and the activities it started (tasks, loops, iterations, nested tasks), for
// Neo4j Browser.
//
// Parameters:
//   $run    the workflow run (or any activity): qualified name (`id`) or full URI (`key`)
//
// The graph form of task_tree: every activity that reaches the run through wasStartedBy edges (at most 20
// levels), with those edges.
//
// Returns nodes (list of nodes) and relationships (list of relationships).
MATCH (run:Element)
WHERE run.key = $run OR run.id = $run
OPTIONAL MATCH (task:Activity)-[:wasStartedBy*1..20]->(run)
WITH run, collect(DISTINCT task) AS tasks
WITH [run] + tasks AS nodes
UNWIND nodes AS node
OPTIONAL MATCH (node)-[edge:wasStartedBy]->(parent)
WHERE parent IN nodes
RETURN nodes, collect(DISTINCT edge) AS relationships
