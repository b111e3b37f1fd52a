-- Stance of one docket's comments counted three ways: comments, submissions, unique texts.
-- Parameter: $docket_id. A campaign counts once among unique texts (its template's stance).
-- `not read`: substance in attachments whose text was not extracted (never `unclear`).
with labelled as (
    select l.comment_id, l.stance, m.campaign_id, coalesce(c.duplicate_comments, 0) as duplicates
    from comment_labels l
    join comments c using (comment_id)
    left join campaign_members m using (comment_id)
    where l.docket_id = $docket_id
),
texts as (
    select stance, count(*) as n from labelled where campaign_id is null group by stance
    union all
    select stance, count(*) from campaigns where docket_id = $docket_id group by stance
)
select
    s.stance,
    (select count(*) from labelled where stance = s.stance)                     as comments,
    (select coalesce(sum(1 + duplicates), 0) from labelled where stance = s.stance) as submissions,
    (select coalesce(sum(n), 0) from texts where stance = s.stance)             as unique_texts
from (values (1, 'support'), (2, 'oppose'), (3, 'mixed'), (4, 'unclear'), (5, 'not read')) s(ord, stance)
order by s.ord;
