-- The effective text of a docket's comments (comment_bodies) and where its substance is.
-- Parameter: $docket_id. Callers may narrow it to some ids (a constant IN list is pushed
-- into the view, so only those comments are read).
--   attachment_state  read:   attachment text is part of the effective text
--                     unread: the box only points to attachments whose text was not read
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
            when b.body_source in ('attachment', 'both') then 'read'
            when b.box_is_boilerplate and b.attachments > 0 then 'unread'
            when b.attachments > 0 or coalesce(c.attachment_count, 0) > 0 then 'listed'
            else 'none'
        end as attachment_state
    from comment_bodies b
    join comments c using (comment_id)
    where b.docket_id = $docket_id
)
select * from final
