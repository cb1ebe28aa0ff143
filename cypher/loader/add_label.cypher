// loader/add_label: give existing element nodes one more label ({{label}}, from the allow-list): the kind a
// relation's position implies for an element it references, or a second subtype from prov:type.
// Parameters: $keys (list of node keys).
UNWIND $keys AS key
MATCH (n:Element {key: key})
SET n:{{label}}
