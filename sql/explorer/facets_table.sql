-- The explorer's snapshot keeps this per docket as a table (explorer_facets): the filter
-- values of comment_facets.sql, where the comment's substance is (comment_texts.sql), and the
-- position of each comment in the lists' orders, so a page of any list is "the next 50
-- positions after this one" over a whole number (zone maps skip the rest), whatever its depth.
-- Undated comments sort as the oldest. Parameter: $docket_id.
-- The caller inlines those two files where the braces are (str.format).
with
facets as ({facets}),
texts as ({texts}),
joined as (
    select
        f.*,
        t.attachment_state,
        t.body_source,
        coalesce(f.posted_date, timestamp '1970-01-01') as posted_key
    from facets f
    join texts t using (comment_id)
),
final as (
    select
        *,
        row_number() over (order by posted_key desc, comment_id desc) as new_rank,
        row_number() over (order by submissions desc, comment_id) as subs_rank
    from joined
)
select * from final
