-- Names the briefing must not show by default: first and last names of
-- private commenters (individual, anonymous, or not known to be an
-- organization or government), and the titles that may carry them.
select
    c.comment_id,
    c.first_name,
    c.last_name,
    c.title
from comments c
left join comment_labels l using (comment_id)
where c.docket_id = $docket_id
  and coalesce(l.commenter_type, 'unknown') not in ('organization', 'government')
  and (c.first_name is not null or c.last_name is not null or c.title is not null);
