// schema/relationship_constraint: statement keys are unique per relationship type; MERGE on `sk` seeks this
// constraint's index. {{type}} comes from the allow-list (provgraph.graph.model.RELATIONSHIP_TYPES).
CREATE CONSTRAINT {{type}}_sk IF NOT EXISTS FOR ()-[r:{{type}}]-() REQUIRE r.sk IS UNIQUE
