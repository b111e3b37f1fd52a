-- Must return no rows: every comment is stored once.
select comment_id, count(*) as n from comments group by comment_id having count(*) > 1;
