// lineage_upstream: everything that led to an element (its upstream provenance), nearest first.
// FalkorDB form: FalkorDB expands a multi-type variable-length pattern by enumerating paths (seconds on long
// derivation chains), so the candidates come from its breadth-first search over all outgoing edges (algo.BFS,
// 30 levels: a superset of what the four lineage types reach), and shortestPath over the four types keeps
// exactly the nodes they reach, at the same distance. Same rows as the Neo4j form (tests/provgraph/
// test_embedded_parity.py); on 50-step chains 0.1 s instead of 5 s.
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
CALL algo.BFS(start, 30, NULL) YIELD nodes
UNWIND nodes AS node
WITH start, node
WHERE node <> start AND NOT node:Telemetry
  AND NOT (node:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(node)
             AND NOT (node)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (node)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(node)))
WITH start, node, shortestPath((start)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(node)) AS path
WHERE path IS NOT NULL AND length(path) <= $depth
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
