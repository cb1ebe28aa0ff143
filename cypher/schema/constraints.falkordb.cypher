// schema/constraints (FalkorDB): indexes, then unique constraints, created idempotently by ensure_schema.
// FalkorDB has no CREATE CONSTRAINT: a unique constraint is the GRAPH.CONSTRAINT command over an exact-match
// index, so lines starting with GRAPH.CONSTRAINT are sent as that command (the graph key is inserted after
// CREATE). Same constraints and indexes as the Neo4j form (docs/graph-model.md).
// Parameters: none.
// Returns nothing.
CREATE INDEX FOR (n:Element) ON (n.key);
CREATE INDEX FOR (n:Document) ON (n.id);
CREATE INDEX FOR (n:Namespace) ON (n.key);
CREATE INDEX FOR (n:PropertyPrefix) ON (n.uri);
CREATE INDEX FOR (n:PropertyPrefix) ON (n.prefix);
CREATE INDEX FOR (n:Element) ON (n.id);
CREATE INDEX FOR (n:Activity) ON (n.name);
CREATE INDEX FOR (n:Task) ON (n.status);
CREATE INDEX FOR (n:WorkflowRun) ON (n.name);
CREATE INDEX FOR (n:File) ON (n.path);
CREATE INDEX FOR ()-[r:actedOnBehalfOf]-() ON (r.sk);
CREATE INDEX FOR ()-[r:alternateOf]-() ON (r.sk);
CREATE INDEX FOR ()-[r:hadMember]-() ON (r.sk);
CREATE INDEX FOR ()-[r:mentionOf]-() ON (r.sk);
CREATE INDEX FOR ()-[r:specializationOf]-() ON (r.sk);
CREATE INDEX FOR ()-[r:used]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasAssociatedWith]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasAttributedTo]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasDerivedFrom]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasEndedBy]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasGeneratedBy]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasInfluencedBy]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasInformedBy]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasInvalidatedBy]-() ON (r.sk);
CREATE INDEX FOR ()-[r:wasStartedBy]-() ON (r.sk);
GRAPH.CONSTRAINT CREATE UNIQUE NODE Element PROPERTIES 1 key;
GRAPH.CONSTRAINT CREATE UNIQUE NODE Document PROPERTIES 1 id;
GRAPH.CONSTRAINT CREATE UNIQUE NODE Namespace PROPERTIES 1 key;
GRAPH.CONSTRAINT CREATE UNIQUE NODE PropertyPrefix PROPERTIES 1 uri;
GRAPH.CONSTRAINT CREATE UNIQUE NODE PropertyPrefix PROPERTIES 1 prefix;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP actedOnBehalfOf PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP alternateOf PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP hadMember PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP mentionOf PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP specializationOf PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP used PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasAssociatedWith PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasAttributedTo PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasDerivedFrom PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasEndedBy PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasGeneratedBy PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasInfluencedBy PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasInformedBy PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasInvalidatedBy PROPERTIES 1 sk;
GRAPH.CONSTRAINT CREATE UNIQUE RELATIONSHIP wasStartedBy PROPERTIES 1 sk;
