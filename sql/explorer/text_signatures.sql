-- A hash of the inputs of each comment's effective text (comment_bodies): its box text, its
-- attachment count, and each attachment's status and text. When none changed, the effective
-- text did not either, so the search index does not read it again (reading the view is the
-- expensive part: a regular expression per comment; hashing its inputs is not).
-- Parameters: $docket_id; $view_md5, a hash of the view's definition (a changed view
-- re-indexes everything).
with
attachment_sigs as (
    select
        comment_id,
        string_agg(doc_order || ':' || status || ':' || coalesce(hash(text)::varchar, ''), ',' order by doc_order) as sig
    from attachments
    where comment_id in (select comment_id from comments where docket_id = $docket_id)
    group by comment_id
),
final as (
    select
        c.comment_id,
        hash(c.text, c.attachment_count, a.sig, $view_md5) as text_sig
    from comments c
    left join attachment_sigs a using (comment_id)
    where c.docket_id = $docket_id
)
select * from final
