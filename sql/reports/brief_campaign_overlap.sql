-- Comments that copy the letters of two campaigns or more: each counts under one campaign
-- (campaign_members) and is listed with the others (view comment_other_letters).
select count(distinct comment_id) as comments
from comment_other_letters
where docket_id = $docket_id;
