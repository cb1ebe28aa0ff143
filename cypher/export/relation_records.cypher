// export/relation_records: the relation records of some documents, of one relationship type, one page in
// statement-key order (an index seek on the type's sk uniqueness constraint), as one row of parallel lists.
// {{type}} comes from the allow-list.
// Parameters: $docs (list of document ids), $after (the last statement key of the previous page; "" first), $page.
// Returns: cursors (statement keys, ascending), docs (each relation's document), recs (the exact records as JSON).
MATCH ()-[r:{{type}}]->()
WHERE r.sk > $after AND r.doc IN $docs
WITH r
ORDER BY r.sk
LIMIT $page
RETURN collect(r.sk) AS cursors, collect(r.doc) AS docs, collect(r._rec) AS recs
