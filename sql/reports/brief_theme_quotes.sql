-- Every exemplar quote of every theme, with what is needed to vet it: whether
-- it is a verbatim substring of the comment's effective text, and who wrote it.
with
quotes as (
    select t.theme_id, q.ord, q.item.comment_id as comment_id, q.item.quote as quote
    from themes t,
         unnest(t.quotes) with ordinality as q(item, ord)
    where t.docket_id = $docket_id
),
final as (
    select
        q.theme_id,
        q.ord,
        q.comment_id,
        q.quote,
        coalesce(contains(b.body, q.quote), false)       as is_verbatim,
        coalesce(l.commenter_type, 'unknown')           as commenter_type,
        l.commenter_name,
        c.organization,
        c.gov_agency,
        c.first_name,
        c.last_name
    from quotes q
    left join comment_bodies b on b.comment_id = q.comment_id
    left join comment_labels l on l.comment_id = q.comment_id
    left join comments c on c.comment_id = q.comment_id
    order by q.theme_id, q.ord
)
select * from final;
