-- Themes, largest first, counted two ways side by side: every comment that raises the theme
-- (a text can raise several, so these overlap) and by main theme only (each comment once, so
-- these add up over the themes), each by unique texts (a campaign once), posted comments and
-- submissions represented; and the campaign with the most copies in the theme.
with
totals as (
    select
        (select count(*) from comment_analysis where docket_id = $docket_id and campaign_id is null)
          + (select count(distinct campaign_id) from comment_analysis where docket_id = $docket_id) as unique_texts,
        (select count(*) + coalesce(sum(duplicate_comments), 0) from comments where docket_id = $docket_id) as submissions
),
members as (
    select ct.theme_id, ct.comment_id, ct.is_primary, m.campaign_id,
           1 + coalesce(c.duplicate_comments, 0) as submissions
    from comment_themes ct
    join comments c using (comment_id)
    left join campaign_members m on m.comment_id = ct.comment_id and m.docket_id = ct.docket_id
    where ct.docket_id = $docket_id
),
main as (
    select theme_id,
           count(*)                                                           as main_comments,
           count(distinct coalesce('campaign:' || campaign_id, comment_id))   as main_unique_texts,
           sum(submissions)                                                   as main_submissions
    from members
    where is_primary
    group by theme_id
),
top_campaign as (
    select theme_id, campaign_id as top_campaign_id, count(*) as top_campaign_comments
    from members
    where campaign_id is not null
    group by theme_id, campaign_id
    qualify row_number() over (partition by theme_id order by count(*) desc, campaign_id) = 1
),
final as (
    select
        t.theme_id,
        t.label,
        t.keywords,
        t.is_catch_all,
        t.rank,
        t.unique_texts,
        t.comments,
        t.submissions,
        round(100.0 * t.unique_texts / nullif(totals.unique_texts, 0), 1) as unique_share_pct,
        round(100.0 * t.submissions / nullif(totals.submissions, 0), 1)  as submissions_share_pct,
        coalesce(mn.main_unique_texts, 0)                                as main_unique_texts,
        coalesce(mn.main_comments, 0)                                    as main_comments,
        coalesce(mn.main_submissions, 0)                                 as main_submissions,
        tc.top_campaign_id,
        coalesce(tc.top_campaign_comments, 0)                            as top_campaign_comments
    from themes t
    cross join totals
    left join main mn using (theme_id)
    left join top_campaign tc using (theme_id)
    where t.docket_id = $docket_id
    order by t.is_catch_all, t.rank nulls last, t.submissions desc, t.theme_id
)
select * from final;
