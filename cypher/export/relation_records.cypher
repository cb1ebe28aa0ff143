// export/relation_records: the relation records of some documents, of one relationship type, one page, in
// statement-key order (seek on the sk uniqueness constraint's index). {{type}} comes from the allow-list.
// Parameters: $docs (list of document ids), $after (the last cursor of the previous page; "" first), $page.
// Returns: cursor (the statement key), doc, rec (the exact record as JSON).
MATCH ()-[r:{{type}}]->()
WHERE r.sk > $after AND r.doc IN $docs
RETURN r.sk AS cursor, r.doc AS doc, r._rec AS rec
ORDER BY r.sk
LIMIT $page
