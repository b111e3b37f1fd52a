-- What the theme counts add up to: by main theme each comment with a theme counts once, so the
-- themes' main-theme counts sum to the comments that have a theme; the rest had no text the
-- analysis could read (attachment-only comments whose files were not read, empty boxes).
with
themed as (
    select count(*) filter (where is_primary) as main_comments,
           count(distinct comment_id)          as comments_with_theme
    from comment_themes
    where docket_id = $docket_id
),
posted as (
    select count(*) as comments from comments where docket_id = $docket_id
)
select
    t.main_comments,
    t.comments_with_theme,
    p.comments - t.comments_with_theme as comments_without_theme
from themed t cross join posted p;
