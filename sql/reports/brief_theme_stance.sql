-- Stance within each theme, for every stance value the analysis used: unique texts (a
-- campaign once, with the campaign's stance) and posted comments (each with its own stance)
-- among the texts that raise the theme.
with
members as (
    select ct.theme_id, ct.comment_id, m.campaign_id, coalesce(l.stance, 'unclear') as stance
    from comment_themes ct
    left join campaign_members m on m.comment_id = ct.comment_id and m.docket_id = ct.docket_id
    left join comment_labels l on l.comment_id = ct.comment_id
    where ct.docket_id = $docket_id
),
by_text as (
    select theme_id, stance, count(*) as unique_texts
    from (
        select theme_id, stance from members where campaign_id is null
        union all
        select p.theme_id, coalesce(k.stance, 'unclear') as stance
        from (select distinct theme_id, campaign_id from members where campaign_id is not null) p
        join campaigns k on k.docket_id = $docket_id and k.campaign_id = p.campaign_id
    )
    group by theme_id, stance
),
by_comment as (
    select theme_id, stance, count(*) as comments
    from members
    group by theme_id, stance
),
final as (
    select
        theme_id,
        stance,
        coalesce(t.unique_texts, 0) as unique_texts,
        coalesce(c.comments, 0)     as comments
    from by_comment c
    full outer join by_text t using (theme_id, stance)
    order by theme_id,
             case stance when 'support' then 1 when 'oppose' then 2 when 'mixed' then 3
                         when 'unclear' then 4 when 'not read' then 5 else 6 end,
             stance
)
select * from final;
