// derivation_chain: how one element came from another: the steps of a shortest chain between them.
//
// Parameters:
//   $source the later element (e.g. a result): qualified name (`id`) or full URI (`key`)
//   $target the earlier element (e.g. an input file): `id` or `key`
//   $depth  longest chain accepted, in relationships (1..30; 30 is the fixed bound in the patterns)
//
// Prefers a chain through generations and usages (entity <-generated- activity -used-> entity ...), which shows
// every activity on the way; falls back to any chain that also uses wasDerivedFrom. Order does not matter: when
// nothing leads from $source back to $target, the chain from $target back to $source is tried.
//
// Returns one row per element on the chain, from $source to $target: step (0 = $source), id, key, labels, name, value,
//   relation (type of the edge to the next element; null on the last row).
MATCH (source:Element)
WHERE source.key = $source OR source.id = $source
MATCH (target:Element)
WHERE (target.key = $target OR target.id = $target) AND target <> source
WITH source, target,
     shortestPath((source)-[:used|wasGeneratedBy|wasInformedBy*1..30]->(target)) AS process_forward,
     shortestPath((source)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(target)) AS any_forward,
     shortestPath((target)-[:used|wasGeneratedBy|wasInformedBy*1..30]->(source)) AS process_backward,
     shortestPath((target)-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]->(source)) AS any_backward
WITH coalesce(process_forward, any_forward, process_backward, any_backward) AS path
WHERE path IS NOT NULL AND length(path) <= $depth
WITH path
ORDER BY length(path)
LIMIT 1
UNWIND range(0, length(path)) AS step
WITH step, nodes(path)[step] AS node, relationships(path) AS edges
RETURN step,
       node.id AS id,
       node.key AS key,
       [label IN labels(node) WHERE label <> 'Element'] AS labels,
       coalesce(node.name, node.path, node.label, node.role, node.id) AS name,
       node.value AS value,
       CASE WHEN step < size(edges) THEN type(edges[step]) END AS relation
ORDER BY step
