// run_producers: the processes that produced runs (capture's process agent: pg:hostname and pg:pid), for telling
// a run still running from one whose producer died before ending it (provgraph.producers).
//
// Parameters:
//   $keys   the run activities' keys
//
// Returns one row per run and process agent: key, hostname, pid.
UNWIND $keys AS key
MATCH (run:Activity {key: key})-[:wasAssociatedWith]->(agent:Agent)
WHERE agent.hostname IS NOT NULL AND agent.pid IS NOT NULL
RETURN key, agent.hostname AS hostname, agent.pid AS pid
