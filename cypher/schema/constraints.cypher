// schema/constraints: uniqueness constraints and indexes of the graph model (docs/graph-model.md), each created
// only if missing, so start-up may run them every time. Statements are separated by ";". The `sk` uniqueness
// constraint of each relationship type is in schema/relationship_constraint (rendered once per allowed type).
CREATE CONSTRAINT element_key IF NOT EXISTS FOR (n:Element) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT document_id IF NOT EXISTS FOR (n:Document) REQUIRE n.id IS UNIQUE;
CREATE CONSTRAINT namespace_key IF NOT EXISTS FOR (n:Namespace) REQUIRE n.key IS UNIQUE;
CREATE CONSTRAINT property_prefix_uri IF NOT EXISTS FOR (n:PropertyPrefix) REQUIRE n.uri IS UNIQUE;
CREATE CONSTRAINT property_prefix_prefix IF NOT EXISTS FOR (n:PropertyPrefix) REQUIRE n.prefix IS UNIQUE;
CREATE INDEX element_id IF NOT EXISTS FOR (n:Element) ON (n.id);
CREATE INDEX activity_name IF NOT EXISTS FOR (n:Activity) ON (n.name);
CREATE INDEX task_status IF NOT EXISTS FOR (n:Task) ON (n.status);
CREATE INDEX workflow_run_name IF NOT EXISTS FOR (n:WorkflowRun) ON (n.name);
CREATE INDEX file_path IF NOT EXISTS FOR (n:File) ON (n.path)
