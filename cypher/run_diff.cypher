// run_diff: what changed between two runs of the same workflow: activities added, removed, or given other inputs.
//
// Parameters:
//   $run_a  the earlier (baseline) run: qualified name (`id`) or full URI (`key`)
//   $run_b  the later run: `id` or `key`
//   $limit  at most this many rows
//
// Definition. The activities of a run are those reaching it through wasStartedBy edges (at most 20 levels: a
// fixed bound). Within a run, an activity's ordinal is its position among the run's activities of the same name,
// ordered by startTime, then id (0 = the first "train", 1 = the second ...). Activities of the two runs are
// matched on (name, ordinal). An activity's inputs are its used edges, each as the pair {role, value}: role is
// the usage's prov:role (else the entity's role, else ""); value is the entity's `value`, else its `sha256`
// (files: same content, same value), else its `fingerprint`, else its id. Inputs are compared as sets.
//   added    (name, ordinal) only in $run_b
//   removed  (name, ordinal) only in $run_a
//   changed  in both, with different input sets; removed_inputs / added_inputs list the pairs only in a / b
// Activities with equal inputs are not returned.
//
// Returns one row per difference, ordered by name then ordinal: change, name, ordinal, activity_a (id or
//   null), activity_b (id or null), removed_inputs, added_inputs (lists of {role, value}).
MATCH (run_a:Element)
WHERE run_a.key = $run_a OR run_a.id = $run_a
MATCH (run_b:Element)
WHERE run_b.key = $run_b OR run_b.id = $run_b
CALL (run_a, run_b) {
  UNWIND [[0, run_a], [1, run_b]] AS side_run
  WITH side_run[0] AS side, side_run[1] AS run
  MATCH (activity:Activity)-[:wasStartedBy*1..20]->(run)
  WITH DISTINCT side, activity
  ORDER BY activity.startTime, activity.id
  WITH side, activity.name AS name, collect(activity) AS same_name
  UNWIND range(0, size(same_name) - 1) AS ordinal
  WITH side, name, ordinal, same_name[ordinal] AS activity
  RETURN collect({side: side, name: name, ordinal: ordinal, id: activity.id,
                  inputs: [(activity)-[usage:used]->(input) |
                           {role: coalesce(usage.role, input.role, ''),
                            value: coalesce(input.value, input.sha256, input.fingerprint, input.id)}]}) AS rows
}
WITH [row IN rows WHERE row.side = 0] AS side_a, [row IN rows WHERE row.side = 1] AS side_b
UNWIND side_a + side_b AS row
WITH DISTINCT side_a, side_b, row.name AS name, row.ordinal AS ordinal
WITH name, ordinal,
     head([row IN side_a WHERE row.name = name AND row.ordinal = ordinal]) AS a,
     head([row IN side_b WHERE row.name = name AND row.ordinal = ordinal]) AS b
WITH name, ordinal, a, b,
     CASE WHEN a IS NULL THEN [] ELSE [input IN a.inputs WHERE b IS NULL OR NOT input IN b.inputs] END AS removed_inputs,
     CASE WHEN b IS NULL THEN [] ELSE [input IN b.inputs WHERE a IS NULL OR NOT input IN a.inputs] END AS added_inputs
WITH name, ordinal, a, b, removed_inputs, added_inputs,
     CASE
       WHEN a IS NULL THEN 'added'
       WHEN b IS NULL THEN 'removed'
       WHEN size(removed_inputs) > 0 OR size(added_inputs) > 0 THEN 'changed'
     END AS change
WHERE change IS NOT NULL
RETURN change, name, ordinal, a.id AS activity_a, b.id AS activity_b, removed_inputs, added_inputs
ORDER BY name, ordinal
LIMIT $limit
