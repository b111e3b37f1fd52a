-- Every docket in the store, one row each: what the explorer's first page lists.
-- posted: the total regulations.gov last reported; stored: comments in the store;
-- unique_texts and campaigns as the briefing counts them (brief_headline); the last sync and
-- whether it reached the end of the list; attachments whose text was not read; the last analysis.
with
ids as (
    select docket_id from dockets
    union select docket_id from comments
    union select docket_id from sync_state
),
stored as (
    select docket_id, count(*) as stored, max(fetched_at) as last_fetched
    from comments
    group by docket_id
),
analysed as (
    select
        docket_id,
        count(*) filter (where campaign_id is null) + count(distinct campaign_id) as unique_texts,
        count(distinct campaign_id)                                               as campaigns
    from comment_analysis
    group by docket_id
),
last_sync as (
    select
        docket_id,
        arg_max(status, started_at)                   as last_sync_status,
        max(coalesce(finished_at, started_at))         as last_sync_at
    from sync_runs
    group by docket_id
),
attachment_counts as (
    select
        c.docket_id,
        count(*)                                       as attachments,
        count(*) filter (where a.status <> 'ok')       as attachments_unread
    from attachments a
    join comments c using (comment_id)
    group by c.docket_id
),
last_analysis as (
    select docket_id, max(finished_at) as analyzed_at
    from analysis_runs
    where status = 'complete'
    group by docket_id
),
not_analyzed as (
    select c.docket_id, count(*) as comments_not_analyzed
    from comments c
    where c.comment_id not in (select comment_id from comment_labels)
    group by c.docket_id
),
final as (
    select
        i.docket_id,
        d.title,
        coalesce(d.agency_id, split_part(i.docket_id, '-', 1))   as agency_id,
        s.api_total                                               as posted,
        coalesce(st.stored, 0)                                    as stored,
        case when la.analyzed_at is not null then a.unique_texts end as unique_texts,
        case when la.analyzed_at is not null then a.campaigns end    as campaigns,
        coalesce(ls.last_sync_at, st.last_fetched)                as last_sync_at,
        ls.last_sync_status,
        s.last_complete_at,
        coalesce(ac.attachments, 0)                               as attachments,
        coalesce(ac.attachments_unread, 0)                        as attachments_unread,
        la.analyzed_at,
        coalesce(n.comments_not_analyzed, 0)                      as comments_not_analyzed
    from ids i
    left join dockets d using (docket_id)
    left join sync_state s using (docket_id)
    left join stored st using (docket_id)
    left join analysed a using (docket_id)
    left join last_sync ls using (docket_id)
    left join attachment_counts ac using (docket_id)
    left join last_analysis la using (docket_id)
    left join not_analyzed n using (docket_id)
)
select * from final
order by docket_id
