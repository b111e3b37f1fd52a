-- Submissions per day by stance (the day received, posted when not known, as brief_timeline),
-- for the docket page's "stance over time". Parameter: $docket_id. Every posted comment
-- counts with its agency duplicate count (1 + duplicate_comments), as brief_stance's
-- submissions do; a day's bars add up to brief_timeline's submissions for that day.
with
dated as (
    select
        cast(coalesce(c.received_date, c.posted_date) as date) as day,
        a.stance,
        1 + coalesce(c.duplicate_comments, 0)                  as submissions
    from comment_analysis a
    join comments c using (comment_id)
    where a.docket_id = $docket_id
),
final as (
    select day, stance, count(*) as comments, sum(submissions) as submissions
    from dated
    where day is not null
    group by day, stance
)
select * from final
order by day, stance
