-- Copies of one campaign per day (the day received, posted when not known).
-- Parameters: $docket_id, $campaign_id.
with
dated as (
    select cast(coalesce(c.received_date, c.posted_date) as date) as day, 1 + coalesce(c.duplicate_comments, 0) as submissions
    from campaign_members m
    join comments c using (comment_id)
    where m.docket_id = $docket_id and m.campaign_id = $campaign_id
),
final as (
    select day, count(*) as comments, sum(submissions) as submissions
    from dated
    where day is not null
    group by day
)
select * from final
order by day
