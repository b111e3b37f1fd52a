-- Themes, largest first, with their share of the docket's unique texts and
-- submissions represented. A text can raise several themes, so shares of
-- different themes may add up to more than 100%.
with
totals as (
    select
        (select count(*) from comment_analysis where docket_id = $docket_id and campaign_id is null)
          + (select count(distinct campaign_id) from comment_analysis where docket_id = $docket_id) as unique_texts,
        (select count(*) + coalesce(sum(duplicate_comments), 0) from comments where docket_id = $docket_id) as submissions
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
        round(100.0 * t.submissions / nullif(totals.submissions, 0), 1)  as submissions_share_pct
    from themes t
    cross join totals
    where t.docket_id = $docket_id
    order by t.is_catch_all, t.rank nulls last, t.submissions desc, t.theme_id
)
select * from final;
