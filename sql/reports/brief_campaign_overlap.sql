-- Comments that copy the letters of two campaigns or more: each counts under one campaign
-- (campaign_members), and is listed with the others (campaign_also_copies), or its campaign's
-- letter holds another campaign's letter whole (campaigns.contained_in).
with
copies_of_more as (
    select comment_id from campaign_also_copies where docket_id = $docket_id
    union
    select m.comment_id
    from campaigns inner_letter
    join campaign_members m
      on m.docket_id = inner_letter.docket_id and list_contains(inner_letter.contained_in, m.campaign_id)
    where inner_letter.docket_id = $docket_id
)
select count(*) as comments from copies_of_more;
