-- One row per comment of a docket: what the explorer's lists and the search index filter
-- and sort on. Parameter: $docket_id. No comment text here (that is comment_texts.sql).
--
-- Each column is defined as the briefing counts it, so a number on the docket page and the
-- length of the list it links to are the same count:
--   stance          comment_analysis.stance                     (brief_stance: comments, submissions)
--   themes          every theme of the comment (comment_themes)  (themes.comments)
--   is_unique       a singleton, or the one comment standing for its campaign (unique texts:
--                   brief_headline, brief_stance)
--   unique_stance   the stance its unique text counts under: a campaign's own stance for the
--                   comment standing for it (brief_stance unique_texts)
--   unique_themes   the themes its unique text counts under: for a campaign, the themes of
--                   any of its members (themes.unique_texts)
--   commenter_name  the analysis's organization or agency name (brief_commenters), never a
--                   private person's
--   day             the day received, posted when not known (brief_timeline)
with
members as (
    select
        m.comment_id,
        m.campaign_id,
        m.is_template,
        coalesce(k.stance, 'unclear') as campaign_stance,
        -- the template stands for its campaign (the lowest id if the template is not stored)
        row_number() over (
            partition by m.campaign_id
            order by (m.comment_id = k.template_comment_id) desc, m.comment_id
        ) = 1 as represents_campaign
    from campaign_members m
    join campaigns k on k.docket_id = m.docket_id and k.campaign_id = m.campaign_id
    where m.docket_id = $docket_id
),
comment_theme_lists as (
    select comment_id, list(theme_id order by theme_id) as themes
    from comment_themes
    where docket_id = $docket_id
    group by comment_id
),
campaign_theme_lists as (
    select m.campaign_id, list(distinct t.theme_id order by t.theme_id) as themes
    from comment_themes t
    join campaign_members m using (comment_id)
    where t.docket_id = $docket_id and m.docket_id = $docket_id
    group by m.campaign_id
),
final as (
    select
        c.comment_id,
        c.docket_id,
        c.posted_date,
        c.received_date,
        cast(coalesce(c.received_date, c.posted_date) as date)        as day,
        1 + coalesce(c.duplicate_comments, 0)                          as submissions,
        a.stance,
        a.commenter_type,
        case when a.commenter_type in ('organization', 'government')
             then nullif(trim(l.commenter_name), '') end               as commenter_name,
        m.campaign_id,
        coalesce(m.is_template, false)                                 as is_template,
        m.campaign_id is null or m.represents_campaign                 as is_unique,
        case when m.campaign_id is null then a.stance else m.campaign_stance end as unique_stance,
        coalesce(t.themes, [])                                         as themes,
        case when m.campaign_id is null then coalesce(t.themes, [])
             else coalesce(ct.themes, []) end                          as unique_themes
    from comments c
    join comment_analysis a using (comment_id)
    left join comment_labels l using (comment_id)
    left join members m using (comment_id)
    left join comment_theme_lists t using (comment_id)
    left join campaign_theme_lists ct on ct.campaign_id = m.campaign_id
    where c.docket_id = $docket_id
)
select * from final
