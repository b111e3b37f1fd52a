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
-- how the read comments of each sender split ("support 1, unclear 1"), shown beside 'mixed'
split as (
    select commenter_type, name,
           string_agg(stance || ' ' || n, ', ' order by n desc, stance) as stance_split,
           count(*)                                                     as stances_read
    from (select commenter_type, name, stance, count(*) as n from labelled
          where stance <> 'not read' group by all)
    group by all
),
final as (
    select
        commenter_type,
        name,
        count(*)                                            as comments,
        sum(submissions)                                    as submissions,
        -- A side only when every comment of it that was read takes that side: one support
        -- comment beside one that takes no side is not a settled position, so it is 'mixed'
        -- (as are comments taking different sides), and stance_split says how it splits.
        -- None taking a side: 'unclear' if any was read, else 'not read'. ('not read' comments
        -- are left out: nobody read them; their count is `not_read`.)
        case
            when count(*) filter (where stance not in ('unclear', 'not read')) = 0 then
                case when count(*) filter (where stance = 'unclear') > 0 then 'unclear' else 'not read' end
            when count(distinct stance) filter (where stance <> 'not read') = 1
                then any_value(stance) filter (where stance <> 'not read')
            else 'mixed' end                                as stance,
        count(*) filter (where stance = 'not read')         as not_read,
        min(comment_id)                                     as first_comment_id
    from labelled
    group by all
)
select final.*, case when split.stances_read > 1 then split.stance_split end as stance_split
from final
left join split on split.commenter_type = final.commenter_type and split.name is not distinct from final.name
order by final.commenter_type desc, final.name is null, final.comments desc, final.name;
