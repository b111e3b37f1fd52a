-- Comments per day (UTC date posted and date received) for one docket, with campaign copies.
-- Parameter: $docket_id.
with days as (
    select
        cast(c.posted_date as date)                         as day,
        'posted'                                            as by_date,
        c.comment_id,
        m.campaign_id
    from comments c left join campaign_members m using (comment_id)
    where c.docket_id = $docket_id and c.posted_date is not null
    union all
    select cast(c.received_date as date), 'received', c.comment_id, m.campaign_id
    from comments c left join campaign_members m using (comment_id)
    where c.docket_id = $docket_id and c.received_date is not null
)
select
    day,
    by_date,
    count(*)                                                as comments,
    count(*) filter (where campaign_id is not null)         as campaign_comments,
    count(*) filter (where campaign_id is null)             as singleton_comments
from days
group by day, by_date
order by by_date, day;
