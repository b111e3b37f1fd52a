-- The effective text of each comment, the input of every analysis:
-- the comment box (unless it only says "see attached"), then the text of
-- its attachments in order. body_source says where the words came from.
create or replace view comment_bodies as
with
attachment_text as (
    select
        comment_id,
        count(*)                                           as attachments,
        count(*) filter (where status = 'ok')              as attachments_with_text,
        string_agg(text, chr(10) || chr(10) order by doc_order)
            filter (where status = 'ok' and text is not null and trim(text) <> '') as text
    from attachments
    group by comment_id
),
box as (
    select
        c.comment_id,
        c.docket_id,
        c.text,
        -- "See attached file(s)", "Please see attached.", "See Attached comments" ...
        coalesce(
            regexp_full_match(
                trim(regexp_replace(lower(coalesce(c.text, '')), '[^a-z ]+', ' ', 'g')),
                '\s*(please\s+)?(see|view|refer\s+to|find)?\s*(the\s+)?(attached|attachment|attachments|enclosed|uploaded)'
                || '(\s+(file|files|file\s+s|document|documents|letter|comments?|pdf|word))?\s*(\s+for\s+(my|our)\s+comments?)?\s*'
            ) or trim(coalesce(c.text, '')) = '',
            true
        ) as box_is_boilerplate
    from comments c
),
final as (
    select
        b.comment_id,
        b.docket_id,
        case
            when not b.box_is_boilerplate and a.text is not null then b.text || chr(10) || chr(10) || a.text
            when not b.box_is_boilerplate then b.text
            else a.text
        end as body,
        case
            when not b.box_is_boilerplate and a.text is not null then 'both'
            when not b.box_is_boilerplate then 'comment'
            when a.text is not null then 'attachment'
            else 'none'
        end as body_source,
        b.box_is_boilerplate,
        coalesce(a.attachments, 0) as attachments,
        coalesce(a.attachments_with_text, 0) as attachments_with_text
    from box b
    left join attachment_text a using (comment_id)
)
select * from final;
