-- Organizations and government bodies that commented on one docket, with their stance.
-- Parameter: $docket_id. Names are organization/agency names from the analysis
-- (comment_labels.commenter_name), never a private individual's name.
-- stance: a side only when every comment of it that was read takes that side; 'mixed' when
-- they take different sides or a side beside comments that take none (one support and one
-- unclear comment is not a settled position: the counts per stance say how it splits); when
-- none takes a side: 'unclear' if any was read, else 'not read' (its substance is in
-- attachments not read: it did not necessarily take no side). Same rule as brief_commenters.
select
    l.commenter_name                                        as name,
    l.commenter_type                                        as commenter_type,
    count(*)                                                as comments,
    count(*) + sum(coalesce(c.duplicate_comments, 0))       as submissions,
    case
        when count(*) filter (where l.stance not in ('unclear', 'not read')) = 0 then
            case when count(*) filter (where l.stance = 'unclear') > 0 then 'unclear' else 'not read' end
        when count(distinct l.stance) filter (where l.stance <> 'not read') = 1
            then any_value(l.stance) filter (where l.stance <> 'not read')
        else 'mixed' end                                    as stance,
    count(*) filter (where l.stance = 'support')            as support,
    count(*) filter (where l.stance = 'oppose')             as oppose,
    count(*) filter (where l.stance = 'mixed')              as mixed,
    count(*) filter (where l.stance = 'unclear')            as unclear,
    count(*) filter (where l.stance = 'not read')           as not_read,
    list(l.comment_id order by l.comment_id)                as comment_ids
from comment_labels l
join comments c using (comment_id)
where l.docket_id = $docket_id
  and l.commenter_type in ('organization', 'government')
  and l.commenter_name is not null
group by l.commenter_name, l.commenter_type
order by comments desc, name;
