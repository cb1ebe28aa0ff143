// task_tree_graph: a run and its steps (tasks, loops, iterations, nested tasks; or the steps of a run from
// another PROV tool), for Neo4j Browser.
//
// Parameters:
//   $run    the run: qualified name (`id`) or full URI (`key`) of a run activity, a bundle, or a document's id
//
// The graph form of task_tree, with the same rule for runs and steps (docs/graph-model.md, "Runs and steps"):
// the run and every step, with the wasStartedBy/wasInformedBy edges between them.
//
// Returns nodes (list of nodes) and relationships (list of relationships).
MATCH (run:Element)
WHERE (run.key = $run OR run.id = $run) AND run:Activity
WITH run
MATCH path = (step:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
WITH run, step, path
ORDER BY length(path)
WITH run, step, head(collect(path)) AS path
WITH run, step, length(path) AS depth, nodes(path)[1].id AS parent
WITH run, collect(DISTINCT step) AS steps
WITH [run] + steps AS nodes
UNWIND nodes AS node
OPTIONAL MATCH (node)-[edge:wasStartedBy|wasInformedBy]->(parent)
WHERE parent IN nodes
RETURN nodes, collect(DISTINCT edge) AS relationships
UNION
// a bundle: its loose steps (from its loose roots down, reaching no run activity)
MATCH (run:Element)
WHERE (run.key = $run OR run.id = $run) AND run:Bundle
WITH run
MATCH (root:Activity)
WHERE root.bundle = run.key
  AND NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
OPTIONAL MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
WHERE loose.bundle = root.bundle AND NOT (loose:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(loose)
             AND NOT (loose)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (loose)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(loose)))
OPTIONAL MATCH (loose)-[:wasStartedBy|wasInformedBy*1..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, loose, count(owner) AS owners
WITH run, loose AS step, 1 AS depth, run.id AS parent, owners
WHERE step IS NOT NULL AND owners = 0
WITH run, collect(DISTINCT step) AS steps
WITH [run] + steps AS nodes
UNWIND nodes AS node
OPTIONAL MATCH (node)-[edge:wasStartedBy|wasInformedBy]->(parent)
WHERE parent IN nodes
RETURN nodes, collect(DISTINCT edge) AS relationships
UNION
// a document: its loose steps outside bundles
MATCH (run:Document)
WHERE run.id = $run
WITH run
MATCH (root:Activity)
WHERE root.bundle = '' AND (run.id IN root.docs OR (size(coalesce(root.docs, [])) = 0 AND (root)-[{doc: run.id}]-()))
  AND NOT root:Campaign
    AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
    AND NOT (root:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
             AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (root)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(root)))
OPTIONAL MATCH (loose:Activity)-[:wasStartedBy|wasInformedBy*0..20]->(root)
WHERE loose.bundle = root.bundle AND NOT (loose:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(loose)
             AND NOT (loose)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (loose)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(loose)))
OPTIONAL MATCH (loose)-[:wasStartedBy|wasInformedBy*1..20]->(owner:Activity)
WHERE (owner:WorkflowRun
       OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(owner)
           AND NOT (owner)-[:wasStartedBy|wasInformedBy]->(:Activity)
           AND NOT (owner)-[:used]->()
           AND NOT ()-[:wasGeneratedBy]->(owner)))
WITH run, loose, count(owner) AS owners
WITH run, loose AS step, 1 AS depth, run.id AS parent, owners
WHERE step IS NOT NULL AND owners = 0
WITH run, collect(DISTINCT step) AS steps
WITH [run] + steps AS nodes
UNWIND nodes AS node
OPTIONAL MATCH (node)-[edge:wasStartedBy|wasInformedBy]->(parent)
WHERE parent IN nodes
RETURN nodes, collect(DISTINCT edge) AS relationships
