-- Candidate examples of unique additions, longest first per campaign, with the
-- sender's type so private names can be kept out.
with
additions as (
    select
        m.campaign_id,
        m.comment_id,
        a.sentence,
        a.ord
    from campaign_members m,
         unnest(m.unique_additions) with ordinality as a(sentence, ord)
    where m.docket_id = $docket_id
),
final as (
    select
        a.campaign_id,
        a.comment_id,
        a.sentence,
        coalesce(contains(b.body, a.sentence), false) as is_verbatim,
        coalesce(l.commenter_type, 'unknown')         as commenter_type
    from additions a
    left join comment_bodies b using (comment_id)
    left join comment_labels l using (comment_id)
    where length(trim(a.sentence)) >= 20
    order by a.campaign_id, (length(a.sentence) between 40 and 300) desc, length(a.sentence) desc, a.comment_id, a.ord
)
select * from final;
