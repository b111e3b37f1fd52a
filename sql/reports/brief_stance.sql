-- Stance counted two ways, side by side: by unique texts (a campaign counts
-- once, with the campaign's stance) and by submissions represented (every
-- posted comment plus the agency's duplicate count, with the comment's own
-- stance, so a copy whose additions disagree counts where it belongs).
-- `not read` (substance in attachments whose text was not extracted) has its
-- own row; read_share_pct is each stance's share of the texts that were read,
-- so `not read` never dilutes support and oppose (null on the `not read` row).
with
stances as (
    select * from (values (1, 'support'), (2, 'oppose'), (3, 'mixed'), (4, 'unclear'), (5, 'not read')) as s(ord, stance)
),
per_comment as (
    select a.comment_id, a.campaign_id, a.stance, 1 + coalesce(c.duplicate_comments, 0) as submissions
    from comment_analysis a
    join comments c using (comment_id)
    where a.docket_id = $docket_id
),
unique_texts as (
    select stance, count(*) as unique_texts
    from (
        select stance from per_comment where campaign_id is null
        union all
        select coalesce(k.stance, 'unclear') as stance
        from (select distinct campaign_id from per_comment where campaign_id is not null) p
        join campaigns k on k.docket_id = $docket_id and k.campaign_id = p.campaign_id
    )
    group by stance
),
submissions as (
    select stance, count(*) as comments, sum(submissions) as submissions
    from per_comment
    group by stance
),
final as (
    select
        s.stance,
        coalesce(u.unique_texts, 0)  as unique_texts,
        coalesce(m.comments, 0)      as comments,
        coalesce(m.submissions, 0)   as submissions,
        round(100.0 * coalesce(u.unique_texts, 0) / nullif(sum(coalesce(u.unique_texts, 0)) over (), 0), 1) as unique_share_pct,
        round(100.0 * coalesce(m.submissions, 0) / nullif(sum(coalesce(m.submissions, 0)) over (), 0), 1)   as submissions_share_pct,
        case when s.stance <> 'not read' then round(100.0 * coalesce(u.unique_texts, 0)
            / nullif(sum(coalesce(u.unique_texts, 0)) filter (where s.stance <> 'not read') over (), 0), 1) end as unique_read_share_pct,
        case when s.stance <> 'not read' then round(100.0 * coalesce(m.submissions, 0)
            / nullif(sum(coalesce(m.submissions, 0)) filter (where s.stance <> 'not read') over (), 0), 1) end as submissions_read_share_pct
    from stances s
    left join unique_texts u using (stance)
    left join submissions m using (stance)
    order by s.ord
)
select * from final;
