-- The effective text of a docket's comments (comment_bodies) and where its substance is.
-- Parameter: $docket_id. Callers may narrow it to some ids (a constant IN list is pushed
-- into the view, so only those comments are read).
--   attachment_state  unread: `not read`, the one definition the stance tables and the briefing's
--                             headline use: the comment's stance is `not read` (its substance is in
--                             attachments whose text was not extracted: comment_bodies.not_read,
--                             or its box takes no side while its attachments are unread); before
--                             any analysis, comment_bodies.not_read
--                     read:   attachment text is part of the effective text
--                     listed: has attachments, none read, and the box says something itself
--                     none:   no attachments
--   The briefing's "comments whose substance is in attachments" (brief_headline
--   attachment_substance) are read + unread; "... of which attachment text could be read"
--   are read.
with
final as (
    select
        b.comment_id,
        b.body,
        b.body_source,
        case
            when coalesce(l.stance = 'not read', b.not_read) then 'unread'
            when b.body_source in ('attachment', 'both') then 'read'
            when b.attachments > 0 or coalesce(c.attachment_count, 0) > 0 then 'listed'
            else 'none'
        end as attachment_state
    from comment_bodies b
    join comments c using (comment_id)
    left join comment_labels l using (comment_id)
    where b.docket_id = $docket_id
)
select * from final
