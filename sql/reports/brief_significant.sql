-- The comments an agency must answer: unique texts (a campaign once, through its template)
-- ranked by substance (comment_significance), with who sent them, the campaign they stand
-- for, and the key sentence checked verbatim against the comment's effective text.
with
ranked as (
    select comment_id, score, rank, signals, key_sentence
    from comment_significance
    where docket_id = $docket_id and rank is not null and score > 0
    order by rank
    limit 10
),
final as (
    select
        r.rank,
        r.comment_id,
        r.score,
        r.signals,
        r.key_sentence,
        coalesce(contains(b.body, r.key_sentence), false) as is_verbatim,
        coalesce(l.commenter_type, 'unknown')            as commenter_type,
        l.commenter_name,
        m.campaign_id,
        k.size                                           as campaign_size
    from ranked r
    left join comment_bodies b on b.comment_id = r.comment_id
    left join comment_labels l on l.comment_id = r.comment_id
    left join campaign_members m on m.comment_id = r.comment_id and m.docket_id = $docket_id
    left join campaigns k on k.docket_id = $docket_id and k.campaign_id = m.campaign_id
    order by r.rank
)
select * from final;
