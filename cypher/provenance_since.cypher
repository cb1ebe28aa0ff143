// provenance_since: the upstream provenance of an element, cut off at a named step ("everything since step X").
//
// Parameters:
//   $ref       the element: qualified name (`id`) or full URI (`key`)
//   $activity  the step to stop at: an activity whose `name` (else `label`: prov:label) equals it (e.g.
//              "clean"; one of its values where it has several, e.g. labels in two languages) or whose `prov:type`
//              list holds it (e.g. "pg:Task")
//   $depth     how many relationships back to go (1..30; 30 is the fixed bound in the patterns)
//   $limit     at most this many rows
//
// Like lineage_upstream, but the walk does not go past an activity matching $activity: such an activity is in
// the result (with cut = true), its inputs and their history are not. A derivation that names its activity
// (wasDerivedFrom with `activity`, as capture writes) is crossed through that activity's usage and generation,
// not directly, so the cut holds for it too; derivations without an activity are followed as they are.
// Telemetry entities and run activities (docs/graph-model.md, "Runs and steps": membership, not a cause) are
// left out. An activity without a name or label never matches by name (it is not cut, and not dropped). The depth shown is the shortest distance over any path.
//
// Returns one row per element: depth, id, key, labels, name, value, cut (true for a matching activity).
MATCH (start:Element)
WHERE start.key = $ref OR start.id = $ref
MATCH path = (start)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*0..29]->(inside)
WHERE all(step IN nodes(path) WHERE NOT (step:Activity AND ($activity IN CASE WHEN coalesce(step.name, step.label) IS NULL THEN []
                   WHEN toStringOrNull(coalesce(step.name, step.label)) IS NULL THEN coalesce(step.name, step.label)
                   ELSE [coalesce(step.name, step.label)] END
                                                         OR $activity IN coalesce(step.types, []))))
  AND all(edge IN relationships(path) WHERE type(edge) <> 'wasDerivedFrom' OR edge.activity IS NULL)
WITH DISTINCT start, inside
MATCH (inside)-[edge:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy]->(node)
WHERE node <> start AND NOT node:Telemetry AND (type(edge) <> 'wasDerivedFrom' OR edge.activity IS NULL)
  AND NOT (node:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(node)
             AND NOT (node)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (node)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(node)))
WITH DISTINCT start, node
WITH start, node,
     node:Activity AND ($activity IN CASE WHEN coalesce(node.name, node.label) IS NULL THEN []
                   WHEN toStringOrNull(coalesce(node.name, node.label)) IS NULL THEN coalesce(node.name, node.label)
                   ELSE [coalesce(node.name, node.label)] END
                        OR $activity IN coalesce(node.types, [])) AS cut,
     shortestPath((start)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(node)) AS path
WHERE length(path) <= $depth
RETURN length(path) AS depth,
       node.id AS id,
       node.key AS key,
       [label IN labels(node) WHERE label <> 'Element'] AS labels,
       coalesce(node.name, node.path, node.label, node.role, node.id) AS name,
       node.value AS value,
       cut
ORDER BY depth, id
LIMIT $limit
