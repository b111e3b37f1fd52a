-- The effective text of each comment, the input of every analysis:
-- the comment box (unless it is only a cover note pointing to an attachment),
-- then the text of its attachments in order. body_source says where the
-- words came from: 'comment', 'attachment', 'both' or 'none'.
--
-- A box is boilerplate (box_is_boilerplate) when it is empty, or when it is
-- short, takes no position, and either points to an attachment ("See attached
-- file(s)", "Please see the attached comments from the American Nurses
-- Association", "Attached are HANYS comments.") or, on a comment that has
-- attachments, only introduces them ("AWS comments on CMS National Provider
-- Directory RFI"). Any word that takes a position keeps the box as content:
-- "I oppose this rule; see attached" counts. Tuned on the bundled real
-- docket CMS-2022-0163 (tests/test_attachments.py holds its cover notes).
--
-- not_read: the comment's substance is in attachments whose text was not
-- (yet) extracted: nothing to read in the box (empty or a cover note) and no
-- attachment text, while attachments are listed or the box points to one.
-- Its stance is `not read`, never `unclear` (nobody read it). An empty box
-- with no attachment at all is read: it says nothing (`unclear`).
-- attachments_unread counts listed attachments without text (a box with
-- content plus unread attachments is read, but may miss its substance).
create or replace view comment_bodies as
with
attachment_text as (
    select
        comment_id,
        count(*)                                           as attachments,
        count(*) filter (where status = 'ok')              as attachments_with_text,
        count(*) filter (where status is distinct from 'ok' or text is null or trim(text) = '') as attachments_unread,
        string_agg(text, chr(10) || chr(10) order by doc_order)
            filter (where status = 'ok' and text is not null and trim(text) <> '') as text
    from attachments
    group by comment_id
),
box_words as (
    select
        c.comment_id,
        c.docket_id,
        c.text,
        coalesce(c.attachment_count, 0) > 0 or a.comment_id is not null as has_attachments,
        -- attachments listed without text; the API's count when none are stored yet
        case when a.comment_id is null then coalesce(c.attachment_count, 0) else a.attachments_unread end as attachments_unread,
        -- lower-case words separated by single spaces, padded so every word is ' word '.
        -- Only short boxes can be cover notes (at most 60 words): a box over 1,500
        -- characters is content without running the regexes over it, which keeps
        -- this view cheap on long letters (the regexes dominated its cost).
        case
            when length(coalesce(c.text, '')) <= 1500
            then ' ' || trim(regexp_replace(lower(coalesce(c.text, '')), '[^a-z0-9]+', ' ', 'g')) || ' '
        end as words
    from comments c
    left join attachment_text a using (comment_id)
),
box_traits as (
    select
        *,
        length(trim(words)) = 0 as is_empty,
        length(string_split(trim(words), ' ')) as word_count,
        regexp_matches(words, ' (attach[a-z]*|enclos[a-z]*|upload[a-z]*) ') as points_to_attachment,
        regexp_matches(
            words,
            ' (comments?|response|respond[a-z]*|submi[a-z]*|letter|behalf|rfi|docket|cms|opportunity|feedback|input|regarding|re) '
        ) as introduces_submission,
        regexp_matches(
            words,
            ' (oppos[a-z]*|support[a-z]*|urg[a-z]*|against|favou?r[a-z]*|concern[a-z]*|believ[a-z]*|recommend[a-z]*'
            || '|should|must|need[a-z]*|disagree[a-z]*|agree[a-z]*|reject[a-z]*|withdraw[a-z]*|stop[a-z]*|ban|harm[a-z]*'
            || '|protect[a-z]*|benefit[a-z]*|worr[a-z]*|fear[a-z]*|danger[a-z]*|unfair[a-z]*|wrong|demand[a-z]*|want[a-z]*'
            || '|love|hate|terribl[a-z]*|horribl[a-z]*|awful|bad|unacceptabl[a-z]*|outrag[a-z]*|disappoint[a-z]*'
            || '|problem[a-z]*|not|no|never|don t|dont|cannot|can t|won t|shouldn t|isn t|please do) '
        ) as takes_position
    from box_words
),
box as (
    select
        comment_id,
        docket_id,
        text,
        attachments_unread,
        coalesce(points_to_attachment, false) as points_to_attachment,
        coalesce(is_empty or (
            word_count <= 60
            and not takes_position
            and (points_to_attachment or (has_attachments and word_count <= 25 and introduces_submission))
        ), false) as box_is_boilerplate
    from box_traits
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
        coalesce(a.attachments_with_text, 0) as attachments_with_text,
        b.attachments_unread,
        b.box_is_boilerplate and a.text is null
            and (b.attachments_unread > 0 or b.points_to_attachment) as not_read
    from box b
    left join attachment_text a using (comment_id)
)
select * from final;
