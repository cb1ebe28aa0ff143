// associations: who and what (people, software, machines, organisations) was associated with a result.
//
// Parameters:
//   $ref    the element: an entity (qualified name `id` or URI `key`), or an activity
//   $limit  at most this many rows
//
// Agents are found four ways: wasAttributedTo from the entity; wasAssociatedWith from the activity that
// generated it (or the activity itself), and from the activities above it in its task tree (wasStartedBy, at
// most 20 levels: the run, a loop); actedOnBehalfOf from those agents (at most 5 levels: delegation chains).
//
// Returns one row per (agent, activity, how): agent (id), agent_key, labels (Agent, Machine, Person...), name
//   (name, hostname, login, label or id), how (wasAttributedTo, wasAssociatedWith or actedOnBehalfOf), activity
//   (id of the activity associated, null for attribution), activity_name, on_behalf_of (for actedOnBehalfOf: the
//   delegate's id).
MATCH (start:Element)
WHERE start.key = $ref OR start.id = $ref
CALL (start) {
  MATCH (start)-[:wasAttributedTo]->(agent:Agent)
  RETURN agent, 'wasAttributedTo' AS how, null AS activity
  UNION
  MATCH (start)-[:wasGeneratedBy*0..1]->(generator:Activity)
  MATCH (generator)-[:wasStartedBy*0..20]->(activity:Activity)
  MATCH (activity)-[:wasAssociatedWith]->(agent:Agent)
  RETURN agent, 'wasAssociatedWith' AS how, activity
}
WITH DISTINCT agent, how, activity
CALL (agent, how, activity) {
  RETURN agent AS who, how AS relation, activity AS via, null AS delegate
  UNION
  MATCH (agent)-[:actedOnBehalfOf*1..5]->(responsible:Agent)
  RETURN responsible AS who, 'actedOnBehalfOf' AS relation, activity AS via, agent AS delegate
}
RETURN DISTINCT who.id AS agent,
       who.key AS agent_key,
       [label IN labels(who) WHERE label <> 'Element'] AS labels,
       coalesce(who.name, who.hostname, who.login, who.label, who.id) AS name,
       relation AS how,
       via.id AS activity,
       via.name AS activity_name,
       delegate.id AS on_behalf_of
ORDER BY agent, how, activity
LIMIT $limit
