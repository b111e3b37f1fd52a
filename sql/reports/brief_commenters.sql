-- Organizations and governments that commented, with their stance.
-- Names come from the analysis (commenter_name); private individuals are
-- never listed here.
with
labelled as (
    select
        a.comment_id,
        a.commenter_type,
        a.stance,
        1 + coalesce(c.duplicate_comments, 0)                       as submissions,
        -- only the analysis's commenter_name, which is never a private person's
        -- (an individual may type their own name in the organization field)
        nullif(trim(l.commenter_name), '')                          as name  -- null: type known, name not
    from comment_analysis a
    join comments c using (comment_id)
    left join comment_labels l using (comment_id)
    where a.docket_id = $docket_id
      and a.commenter_type in ('organization', 'government')
),
final as (
    select
        commenter_type,
        name,
        count(*)                                            as comments,
        sum(submissions)                                    as submissions,
        -- the one side its comments take ('unclear' and 'not read' aside), 'mixed' when they
        -- take different sides; none taking a side: 'unclear' if any was read, else 'not read'
        case count(distinct stance) filter (where stance not in ('unclear', 'not read'))
            when 0 then case when count(*) filter (where stance = 'unclear') > 0 then 'unclear' else 'not read' end
            when 1 then any_value(stance) filter (where stance not in ('unclear', 'not read'))
            else 'mixed' end                                as stance,
        count(*) filter (where stance = 'not read')         as not_read,
        min(comment_id)                                     as first_comment_id
    from labelled
    group by all
)
select * from final
order by commenter_type desc, name is null, comments desc, name;
