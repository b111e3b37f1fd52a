-- Campaign recall on this docket, by the issue's own measure (benchmarks/campaign_openings.py):
-- the comments of 300+ characters that share their first 150 characters with another comment are
-- copies of one letter, by their opening; each letter's campaign is the one holding most of them.
-- How many copies sit in that campaign, and how many more are listed with it (they count under
-- another campaign whose letter they also copy: view comment_other_letters). The rest sit in
-- another campaign or in none (a copy that kept only the letter's opening is one of them).
with texts as (
    -- the comment box's text, as the issue's measure reads a bulk download's Comment column (the
    -- effective text, view comment_bodies, costs 20x more here and opens the same way when the box
    -- holds a letter); its opening after any leading spaces, tabs or line ends
    select comment_id, left(ltrim(left(text, 400), ' ' || chr(9) || chr(10) || chr(13)), 150) as opening
    from comments
    where docket_id = $docket_id and length(text) >= 300
),
letters as (
    select opening from texts group by opening having count(*) >= 2
),
copies as (
    select t.comment_id, t.opening, m.campaign_id
    from texts t
    join letters using (opening)
    left join campaign_members m on m.docket_id = $docket_id and m.comment_id = t.comment_id
),
held as (
    select opening, campaign_id, count(*) as n
    from copies where campaign_id is not null
    group by all
),
home as (
    select opening, campaign_id
    from (select *, row_number() over (partition by opening order by n desc, campaign_id) as r from held)
    where r = 1
)
select
    (select count(*) from letters)                                              as letters,
    count(*)                                                                    as copies,
    count(*) filter (where c.campaign_id = h.campaign_id)                       as grouped,
    count(*) filter (where c.campaign_id is distinct from h.campaign_id and o.comment_id is not null) as listed,
    count(*) filter (where c.campaign_id is null)                               as in_no_campaign
from copies c
left join home h using (opening)
left join comment_other_letters o
  on o.docket_id = $docket_id and o.comment_id = c.comment_id and o.campaign_id = h.campaign_id;
