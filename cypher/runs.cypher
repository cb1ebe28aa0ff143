// runs: the runs in the graph, newest first (by the instant they started, whatever the offset), with the number of their steps by status.
//
// Parameters:
//   $workflow  only runs with this name (`name`, else `label`; one of its values where it has several); null:
//              every run
//   $run       only this run: qualified name (`id`) or full URI (`key`); null: every run
//   $limit     at most this many runs
//
// What a run is (docs/graph-model.md, "Runs and steps"; the same rule in every run query):
//   - a run activity: capture's workflow run (label WorkflowRun), or an activity that other activities point to
//     with wasStartedBy or wasInformedBy, that points to no activity that way itself, and that neither used nor
//     generated an entity (a container of steps, not a step). Its steps are the activities that reach it
//     through wasStartedBy/wasInformedBy edges (at most 20 levels: a fixed bound).
//   - a bundle, for the activities inside it that reach no run activity (and are none);
//   - a document, for its activities outside bundles that reach no run activity (and are none).
// A bundle or document is listed when it holds a loose root: an activity that points to no activity with
// wasStartedBy/wasInformedBy and is no run activity (every loose chain of steps starts at one).
// Campaign activities (pg:Campaign, which runs are wasInfluencedBy) group runs and are never steps.
// Capture writes status FINISHED or ERROR; other values (or none) count in `other`.
//
// Returns one row per run: id, key (a document's id), kind (activity, bundle or document), workflow (its name
//   or label), startTime, startTime_utc (its instant in microseconds since the epoch, docs/graph-model.md
//   "Date-times"), endTime (the run's own; for a bundle or document the earliest start of its loose
//   roots and the latest end of its steps), status (the run's own, if recorded), tasks, finished, failed,
//   other (counts of its steps by status).
// run activities and loose roots: capture's tasks and loops (labels Task, Loop) are neither, since capture
// links each to its parent, so only the other activities are looked at (a label check before any pattern)
OPTIONAL MATCH (activity:Activity)
WHERE NOT activity:Task AND NOT activity:Loop
WITH collect(activity) AS others
UNWIND others + [null] AS candidate
WITH others, candidate
WHERE candidate IS NULL OR (candidate:WorkflowRun
         OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(candidate)
             AND NOT (candidate)-[:wasStartedBy|wasInformedBy]->(:Activity)
             AND NOT (candidate)-[:used]->()
             AND NOT ()-[:wasGeneratedBy]->(candidate)))
WITH others, collect({run: candidate, start: candidate.startTime, utc: candidate._utc_startTime}) AS activity_runs
WITH others, [entry IN activity_runs WHERE entry.run IS NOT NULL] AS activity_runs
UNWIND others + [null] AS root
WITH activity_runs, root
WHERE root IS NULL
   OR (NOT root:Campaign
     AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
     AND NOT (root:WorkflowRun
          OR ((:Activity)-[:wasStartedBy|wasInformedBy]->(root)
              AND NOT (root)-[:wasStartedBy|wasInformedBy]->(:Activity)
              AND NOT (root)-[:used]->()
              AND NOT ()-[:wasGeneratedBy]->(root))))
// a root's documents: those that declared it, else (an activity a document only refers to, never declares, as
// another tool's PROV often does) those whose relations hold it
WITH activity_runs, root,
     CASE WHEN root IS NULL THEN []
          WHEN size(coalesce(root.docs, [])) > 0 THEN root.docs
          ELSE [(root)-[rel]-() | rel.doc] END AS root_docs
WITH activity_runs, collect(CASE WHEN root IS NULL THEN null ELSE {root: root, docs: root_docs} END) AS roots
WITH activity_runs, roots,
     [entry IN roots WHERE entry.root.bundle <> '' |
       {container: entry.root.bundle, start: entry.root.startTime, utc: entry.root._utc_startTime}] AS bundle_roots,
     reduce(pairs = [], entry IN [entry IN roots WHERE entry.root.bundle = ''] |
       pairs + [doc IN entry.docs | {container: doc, start: entry.root.startTime, utc: entry.root._utc_startTime}])
       AS document_roots
OPTIONAL MATCH (bundle:Bundle)
WHERE bundle.key IN [pair IN bundle_roots | pair.container]
WITH activity_runs, roots, bundle_roots, document_roots, collect(bundle) AS bundles
OPTIONAL MATCH (document:Document)
WHERE document.id IN [pair IN document_roots | pair.container]
WITH activity_runs, roots, bundle_roots, document_roots, bundles, collect(document) AS documents
WITH roots, activity_runs
     + [bundle IN bundles | {run: bundle, first: reduce(earliest = null, pair IN bundle_roots |
          CASE WHEN pair.container = bundle.key
                    AND (earliest IS NULL OR coalesce(pair.utc < earliest.utc, pair.start < earliest.start))
               THEN pair ELSE earliest END)}]
     + [document IN documents | {run: document, first: reduce(earliest = null, pair IN document_roots |
          CASE WHEN pair.container = document.id
                    AND (earliest IS NULL OR coalesce(pair.utc < earliest.utc, pair.start < earliest.start))
               THEN pair ELSE earliest END)}] AS entries
UNWIND entries AS entry
WITH roots, entry.run AS run, coalesce(entry.start, entry.first.start) AS startTime,
     coalesce(entry.utc, entry.first.utc) AS startUtc
WHERE ($run IS NULL OR run.key = $run OR run.id = $run)
  AND ($workflow IS NULL OR $workflow IN CASE WHEN coalesce(run.name, run.label) IS NULL THEN []
                   WHEN toStringOrNull(coalesce(run.name, run.label)) IS NULL THEN coalesce(run.name, run.label)
                   ELSE [coalesce(run.name, run.label)] END)
WITH roots, run, startTime, startUtc
ORDER BY startUtc DESC, startTime DESC, run.id
LIMIT $limit
// the steps of a run activity
OPTIONAL MATCH (member:Activity)-[:wasStartedBy|wasInformedBy*1..20]->(run)
WHERE run:Activity
WITH roots, run, startTime, startUtc, collect(DISTINCT member) AS members
// the loose steps of a bundle or document: from its loose roots down, reaching no run activity
UNWIND [entry IN roots WHERE (run:Bundle AND entry.root.bundle = run.key)
                          OR (run:Document AND entry.root.bundle = '' AND run.id IN entry.docs) | entry.root]
       + [null] AS root
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
WITH run, startTime, startUtc, members, loose, count(owner) AS owners
WITH run, startTime, startUtc, members, collect(DISTINCT CASE WHEN owners = 0 THEN loose END) AS loose_steps
WITH run, startTime, startUtc, members + loose_steps AS steps
WITH run, startTime, startUtc, steps,
     CASE WHEN run:Activity THEN 'activity' WHEN run:Bundle THEN 'bundle' ELSE 'document' END AS kind,
     CASE WHEN run:Activity THEN run.endTime
          ELSE coalesce(run.endTime, reduce(latest = null, step IN steps |
            CASE WHEN latest IS NULL OR step.endTime > latest THEN step.endTime ELSE latest END)) END AS endTime
RETURN run.id AS id,
       coalesce(run.key, run.id) AS key,
       kind,
       coalesce(run.name, run.label) AS workflow,
       startTime,
       startUtc AS startTime_utc,
       endTime,
       run.status AS status,
       size(steps) AS tasks,
       size([step IN steps WHERE step.status = 'FINISHED']) AS finished,
       size([step IN steps WHERE step.status = 'ERROR']) AS failed,
       size([step IN steps WHERE step.status IS NULL OR NOT step.status IN ['FINISHED', 'ERROR']]) AS other
ORDER BY startTime_utc DESC, startTime DESC, id
