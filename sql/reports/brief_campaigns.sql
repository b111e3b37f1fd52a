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
          where m.docket_id = $docket_id and m.campaign_id = k.campaign_id) as members_stored,
        -- how much of a typical copy the template is: low when the copies are longer letters
        -- sharing one passage (a paragraph bank), which the briefing then says
        (select median(m.similarity) from campaign_members m
          where m.docket_id = $docket_id and m.campaign_id = k.campaign_id
            and m.comment_id <> k.template_comment_id) as median_similarity
    from campaign_rows k
    order by k.size desc, k.campaign_id
)
select * from final;
