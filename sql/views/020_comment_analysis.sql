-- One row per comment with its analysis (storage contract: keep the names).
create or replace view comment_analysis as
select
    c.comment_id,
    c.docket_id,
    m.campaign_id,
    m.campaign_id is not null                           as is_campaign_copy,
    t.theme_id,
    coalesce(l.stance, 'unclear')                       as stance,
    l.stance_confidence,
    coalesce(l.commenter_type, 'unknown')               as commenter_type
from comments c
left join campaign_members m using (comment_id)
left join comment_themes t on t.comment_id = c.comment_id and t.is_primary
left join comment_labels l on l.comment_id = c.comment_id;
