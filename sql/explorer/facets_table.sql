-- The explorer's snapshot keeps this per docket as a table (explorer_facets): the filter
-- values of comment_facets.sql, where the comment's substance is (comment_texts.sql), and a
-- sort key that is never null (undated comments sort as the oldest). Parameter: $docket_id.
-- The caller inlines those two files where the braces are (str.format).
with
facets as ({facets}),
texts as ({texts}),
final as (
    select
        f.*,
        t.attachment_state,
        t.body_source,
        coalesce(f.posted_date, timestamp '1970-01-01') as posted_key
    from facets f
    join texts t using (comment_id)
)
select * from final
