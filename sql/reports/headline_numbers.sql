-- Headline numbers of the last analysis of one docket, in one row.
-- Parameter: $docket_id. Every count shown by `comments analyze` comes from here.
-- Reconciliation (each *_ok column must be true):
--   posted_comments          = campaign_members + singletons
--   submissions_represented  = posted_comments + agency_duplicates
--   unique_texts             = campaigns + singletons          (a campaign counts once)
--   campaign_members         = sum(campaigns.size)
with
posted as (
    select comment_id, coalesce(duplicate_comments, 0) as duplicates
    from comments
    where docket_id = $docket_id
),
members as (
    select comment_id, campaign_id from campaign_members where docket_id = $docket_id
),
c as (
    select
        (select count(*) from posted)                                            as posted_comments,
        (select coalesce(sum(duplicates), 0) from posted)                        as agency_duplicates,
        (select count(*) from posted p where p.comment_id in (select comment_id from members)) as campaign_members,
        (select count(*) from posted p where p.comment_id not in (select comment_id from members)) as singletons,
        (select count(*) from campaigns where docket_id = $docket_id)           as campaigns,
        (select coalesce(sum(size), 0) from campaigns where docket_id = $docket_id) as campaign_sizes,
        (select count(*) from members m join campaigns k using (campaign_id)
            where k.docket_id = $docket_id and m.comment_id <> k.template_comment_id) as campaign_copies,
        (select count(distinct text_hash) from comment_labels where docket_id = $docket_id) as exact_unique_texts,
        (select count(*) from themes where docket_id = $docket_id and not is_catch_all) as themes,
        (select count(*) from bursts where docket_id = $docket_id)              as bursts,
        (select count(*) from comment_labels where docket_id = $docket_id)      as labelled_comments
),
run as (
    select run_id, finished_at, code_version
    from analysis_runs
    where docket_id = $docket_id and status = 'complete'
    order by finished_at desc, run_id desc
    limit 1
)
select
    $docket_id                                          as docket_id,
    c.posted_comments,
    c.posted_comments + c.agency_duplicates             as submissions_represented,
    c.agency_duplicates,
    c.campaigns + c.singletons                          as unique_texts,
    c.exact_unique_texts,
    c.campaigns,
    c.campaign_members,
    c.campaign_copies,
    c.singletons,
    c.themes,
    c.bursts,
    run.run_id                                          as run_id,
    run.finished_at                                     as analyzed_at,
    run.code_version                                    as code_version,
    c.campaign_members + c.singletons = c.posted_comments as members_plus_singletons_ok,
    c.campaign_sizes = c.campaign_members               as campaign_sizes_ok,
    c.labelled_comments = c.posted_comments             as every_comment_labelled_ok
from c left join run on true;
