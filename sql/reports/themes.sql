-- Themes of one docket with their counts recomputed from comment_themes (they must
-- equal the stored counts), and the verbatim quotes. Parameter: $docket_id.
with counted as (
    select
        ct.theme_id,
        count(distinct ct.comment_id)                                   as comments,
        count(distinct coalesce('campaign:' || m.campaign_id, ct.comment_id)) as unique_texts,
        sum(1 + coalesce(c.duplicate_comments, 0))                      as submissions
    from comment_themes ct
    join comments c using (comment_id)
    left join campaign_members m using (comment_id)
    where ct.docket_id = $docket_id
    group by ct.theme_id
)
select
    t.rank, t.theme_id, t.label, t.is_catch_all, t.keywords,
    t.unique_texts, t.comments, t.submissions,
    k.unique_texts = t.unique_texts and k.comments = t.comments and k.submissions = t.submissions as counts_ok,
    t.quotes
from themes t
left join counted k using (theme_id)
where t.docket_id = $docket_id
order by t.rank;
