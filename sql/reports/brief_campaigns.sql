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
            and m.comment_id <> k.template_comment_id) as median_similarity,
        -- campaigns whose letter holds this one (every copy of theirs copies it too), largest first
        (select list({'campaign_id': o.campaign_id, 'comments': o.size} order by o.size desc, o.campaign_id)
           from campaigns o
          where o.docket_id = $docket_id and list_contains(k.contained_in, o.campaign_id)) as contained_in,
        -- comments counted under other campaigns that also copy this letter (a compound letter)
        (select count(*) from campaign_also_copies a
          where a.docket_id = $docket_id and a.campaign_id = k.campaign_id) as also_copies,
        (select list({'campaign_id': x.campaign_id, 'comments': x.n} order by x.n desc, x.campaign_id)
           from (select m.campaign_id, count(*) as n
                   from campaign_also_copies a
                   join campaign_members m on m.docket_id = a.docket_id and m.comment_id = a.comment_id
                  where a.docket_id = $docket_id and a.campaign_id = k.campaign_id
                  group by m.campaign_id) x) as also_copies_counted_in
    from campaign_rows k
    order by k.size desc, k.campaign_id
)
select * from final;
