-- The full-text index moved out of the database into Tantivy indexes beside it
-- (`<db stem>.search/`, see comments.search_index): its tables are no longer read
-- or written. Dropping them gives their space back.
drop table if exists search_postings;
drop table if exists search_docs;
