// lineage_upstream: everything that led to an element (its upstream provenance), nearest first.
//
// Parameters:
//   $ref    the element: its qualified name (`id`, e.g. "pgid:run_..."), or its full URI (`key`)
//   $depth  how many relationships back to go (1..30); 30 is the fixed bound written in the pattern below,
//           because Cypher cannot take a variable-length bound from a parameter
//   $limit  at most this many rows
//
// Follows used, wasGeneratedBy, wasDerivedFrom and wasInformedBy edges in their direction (from effect to cause).
// Telemetry entities are left out (peak_resources reads them), and so are run activities. Each node comes once, at its shortest distance:
// the traversal collects distinct nodes (a pruning breadth-first expand, no path enumeration), then a shortest
// path gives each node its depth and the edge it was reached by.
//
// A run activity (docs/graph-model.md, "Runs and steps": capture's WorkflowRun, or an activity its steps point to
// with wasStartedBy/wasInformedBy that neither used nor generated anything) is membership, not a cause: it is
// left out (it has no lineage edges of its own, so nothing is reached only through it).
//
// Returns one row per element: depth, id, key, labels (without Element), name (name, path, label, role or id),
//   value, relation (type of the last edge on a shortest path), via (id of the node that edge starts from).
MATCH (start:Element)
WHERE start.key = $ref OR start.id = $ref
MATCH (start)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(node)
WHERE node <> start AND NOT node:Telemetry
  AND NOT (node:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(node)
             AND NOT (node)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (node)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(node)))
WITH DISTINCT start, node
WITH start, node, shortestPath((start)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(node)) AS path
WHERE length(path) <= $depth
RETURN length(path) AS depth,
       node.id AS id,
       node.key AS key,
       [label IN labels(node) WHERE label <> 'Element'] AS labels,
       coalesce(node.name, node.path, node.label, node.role, node.id) AS name,
       node.value AS value,
       type(relationships(path)[length(path) - 1]) AS relation,
       nodes(path)[length(path) - 1].id AS via
ORDER BY depth, id
LIMIT $limit
