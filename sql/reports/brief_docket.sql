-- Briefing header: the docket, its comment period, and when the data was
-- synced and analyzed. One row (none when the docket is unknown).
with
docket as (
    select docket_id, agency_id, title, rin, docket_type, source
    from dockets
    where docket_id = $docket_id
),
comment_docs as (
    -- documents that opened a comment period (a docket can hold several)
    select
        min(comment_start_date) as comment_start,
        max(comment_end_date)   as comment_end,
        count(*)                as documents
    from documents
    where docket_id = $docket_id
      and (comment_start_date is not null or comment_end_date is not null)
),
notice as (
    -- a docket known only from a bulk CSV has no title of its own: its notice's (or rule's) title
    select document_id, document_type, title
    from documents
    where docket_id = $docket_id and title is not null
      and document_type in ('Proposed Rule', 'Rule', 'Notice')
    order by case document_type when 'Proposed Rule' then 0 when 'Rule' then 1 else 2 end,
             posted_date nulls last, document_id
    limit 1
),
stored as (
    select
        count(*)         as comments,
        max(fetched_at)  as last_fetched,
        any_value(agency_id) as agency_id
    from comments
    where docket_id = $docket_id
),
last_sync as (
    select max(finished_at) as synced_at
    from sync_runs
    where docket_id = $docket_id and status in ('complete', 'partial')
),
last_analysis as (
    select run_id, finished_at, code_version, comments_analyzed, codebook
    from analysis_runs
    where docket_id = $docket_id and status = 'complete'
    order by finished_at desc nulls last, started_at desc
    limit 1
),
final as (
    select
        $docket_id                                     as docket_id,
        d.docket_id is not null                        as docket_known,
        coalesce(d.title, n.title)                     as title,
        d.title is null and n.title is not null        as title_from_notice,
        n.document_id                                  as notice_id,
        n.document_type                                as notice_type,
        coalesce(d.agency_id, s.agency_id)             as agency_id,
        d.rin,
        d.docket_type,
        cd.comment_start,
        cd.comment_end,
        s.comments                                     as stored_comments,
        coalesce(ls.synced_at, s.last_fetched)         as synced_at,
        case when ls.synced_at is not null then 'sync run' else 'comments fetched' end as synced_basis,
        la.run_id                                      as analysis_run_id,
        la.finished_at                                 as analyzed_at,
        la.code_version,
        la.comments_analyzed,
        la.codebook,
        (select count(*) from comments c
          where c.docket_id = $docket_id
            and c.comment_id not in (select comment_id from comment_labels where docket_id = $docket_id))
                                                       as comments_not_analyzed
    from stored s
    cross join comment_docs cd
    cross join last_sync ls
    left join docket d on true
    left join notice n on true
    left join last_analysis la on true
)
select * from final;
