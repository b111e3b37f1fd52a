-- Campaigns, largest first (examples of added words: brief_campaign_additions.sql).
with
campaign_rows as (
    select *
    from campaigns
    where docket_id = $docket_id
),
final as (
    select
        k.campaign_id,
        k.size,
        k.exact_copies,
        k.submissions_represented,
        k.members_with_additions,
        k.template_comment_id,
        k.template_text,
        coalesce(k.stance, 'unclear')   as stance,
        k.first_received,
        k.last_received,
        k.first_posted,
        k.last_posted,
        (select count(*) from campaign_members m
          where m.docket_id = $docket_id and m.campaign_id = k.campaign_id) as members_stored
    from campaign_rows k
    order by k.size desc, k.campaign_id
)
select * from final;
