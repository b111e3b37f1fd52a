-- Comments per day by the day the agency received them (posted day when the
-- receipt date is missing), split into campaign copies and the rest.
with
dated as (
    select
        cast(coalesce(c.received_date, c.posted_date) as date) as day,
        a.campaign_id,
        1 + coalesce(c.duplicate_comments, 0) as submissions
    from comment_analysis a
    join comments c using (comment_id)
    where a.docket_id = $docket_id
),
final as (
    select
        day,
        count(*)                                        as comments,
        count(*) filter (where campaign_id is not null) as campaign_comments,
        sum(submissions)                                as submissions
    from dated
    group by day
    order by day nulls last
)
select * from final;
