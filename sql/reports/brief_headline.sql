-- Headline numbers of a briefing, chosen so they reconcile:
--   comments_posted = campaign_comments + singleton_comments
--   submissions_represented = comments_posted + agency_duplicates
--   unique_texts = singleton_comments + campaigns (a campaign counts once)
--   not_read = comments whose stance is `not read` (= the stance table's `not read` row by comments)
with
analysis as (
    select a.comment_id, a.campaign_id, coalesce(c.duplicate_comments, 0) as duplicates
    from comment_analysis a
    join comments c using (comment_id)
    where a.docket_id = $docket_id
),
bodies as (
    select b.body_source, coalesce(l.stance = 'not read', b.not_read) as not_read
    from comment_bodies b
    left join comment_labels l using (comment_id)
    where b.docket_id = $docket_id
),
counts as (
    select
        count(*)                                                as comments_posted,
        sum(duplicates)                                         as agency_duplicates,
        count(*) + sum(duplicates)                              as submissions_represented,
        count(*) filter (where campaign_id is not null)         as campaign_comments,
        count(*) filter (where campaign_id is null)             as singleton_comments,
        count(distinct campaign_id)                             as campaigns,
        coalesce(sum(1 + duplicates) filter (where campaign_id is not null), 0) as campaign_submissions
    from analysis
),
-- comments whose substance is in attachments: those whose attachment text was read, and those
-- `not read` (one definition everywhere: the stance tables' `not read` row, the explorer's
-- "attachment not read"; see explorer/comment_texts.sql)
attachment_substance as (
    select
        count(*) filter (where body_source in ('attachment', 'both') or not_read) as attachment_substance,
        count(*) filter (where body_source in ('attachment', 'both') and not not_read) as attachment_substance_with_text
    from bodies
),
-- comments whose stance is `not read`: their substance is in attachments whose text
-- was not extracted (the stance table's `not read` row counts the same comments)
not_read as (
    select
        count(*) filter (where a.stance = 'not read')                      as not_read,
        -- of which the box held a cover note that was read and takes no side
        count(*) filter (where a.stance = 'not read' and not b.not_read)  as not_read_cover_note_only
    from comment_analysis a
    join comment_bodies b using (comment_id)
    where a.docket_id = $docket_id
),
final as (
    select
        c.comments_posted,
        c.agency_duplicates,
        c.submissions_represented,
        c.singleton_comments + c.campaigns                      as unique_texts,
        c.campaigns,
        c.campaign_comments,
        c.singleton_comments,
        c.campaign_submissions,
        round(100.0 * c.campaign_comments / nullif(c.comments_posted, 0), 1)         as campaign_share_pct,
        round(100.0 * c.campaign_submissions / nullif(c.submissions_represented, 0), 1) as campaign_submissions_share_pct,
        a.attachment_substance,
        a.attachment_substance_with_text,
        a.attachment_substance - a.attachment_substance_with_text as attachment_substance_without_text,
        n.not_read,
        n.not_read_cover_note_only
    from counts c
    cross join attachment_substance a
    cross join not_read n
)
select * from final;
