// impact_graph: the downstream impact of an element as a graph, for Neo4j Browser (guide and favourites).
//
// Parameters:
//   $ref    the element: its qualified name (`id`) or its full URI (`key`)
//
// The graph form of impact_downstream: the element, the activities that used it, what they generated, and so on
// (used, wasGeneratedBy, wasDerivedFrom, wasInformedBy against their direction, at most 30 steps), telemetry
// left out, and the lineage relationships among them.
//
// Returns nodes (list of nodes) and relationships (list of relationships).
MATCH (start:Element)
WHERE start.key = $ref OR start.id = $ref
OPTIONAL MATCH (start)<-[:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy*1..30]-(downstream)
WHERE NOT downstream:Telemetry
WITH start, collect(DISTINCT downstream) AS downstream
WITH [start] + downstream AS nodes
UNWIND nodes AS node
OPTIONAL MATCH (node)-[edge:used|wasGeneratedBy|wasDerivedFrom|wasInformedBy]->(other)
WHERE other IN nodes
RETURN nodes, collect(DISTINCT edge) AS relationships
