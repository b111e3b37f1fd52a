-- Organizations and governments that commented, with their stance.
-- Names come from the analysis (commenter_name) or the API's own fields;
-- private individuals are never listed here.
with
labelled as (
    select
        a.comment_id,
        a.commenter_type,
        a.stance,
        1 + coalesce(c.duplicate_comments, 0)                       as submissions,
        nullif(trim(coalesce(l.commenter_name,
             case when a.commenter_type = 'government' then coalesce(c.gov_agency, c.organization)
                  else coalesce(c.organization, c.gov_agency) end)), '') as name  -- null: type known, name not
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
        -- one stance when all its comments agree, otherwise 'mixed'
        case when count(distinct stance) = 1 then any_value(stance) else 'mixed' end as stance,
        min(comment_id)                                     as first_comment_id
    from labelled
    group by all
)
select * from final
order by commenter_type desc, name is null, comments desc, name;
