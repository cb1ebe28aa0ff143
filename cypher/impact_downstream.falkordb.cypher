// impact_downstream: everything derived from an element (its downstream impact), nearest first.
// FalkorDB form: the shortest path is written from the found node to the start (FalkorDB returns a path matched
// against the edge direction in the other order), so the edge reaching the node is the path's first.
//
// Parameters:
//   $ref    the element: its qualified name (`id`) or its full URI (`key`)
//   $depth  how many relationships forward to go (1..30; 30 is the fixed bound in the pattern)
//   $limit  at most this many rows
//
// The mirror of lineage_upstream: follows used, wasGeneratedBy, wasDerivedFrom and wasInformedBy edges against
// their direction (from cause to effect): the activities that used the element, what they generated, and so on.
// Telemetry entities are left out. Each node comes once, at its shortest distance.
//
// Returns one row per element: depth, id, key, labels, name, value, relation (type of the last edge on a
//   shortest path), via (id of the node reached just before).
MATCH (start:Element)
WHERE start.key = $ref OR start.id = $ref
MATCH (start)<-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]-(node)
WHERE node <> start AND NOT node:Telemetry
WITH DISTINCT start, node
WITH start, node, shortestPath((node)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(start)) AS path
WHERE length(path) <= $depth
RETURN length(path) AS depth,
       node.id AS id,
       node.key AS key,
       [label IN labels(node) WHERE label <> 'Element'] AS labels,
       coalesce(node.name, node.path, node.label, node.role, node.id) AS name,
       node.value AS value,
       type(relationships(path)[0]) AS relation,
       nodes(path)[1].id AS via
ORDER BY depth, id
LIMIT $limit
