-- The campaigns whose letter a comment copies besides its own campaign's: one row per
-- (comment, campaign). By its own words (campaign_also_copies), or because its campaign's letter
-- holds that campaign's letter whole (campaigns.contained_in). The comment counts in its own
-- campaign only (campaign_members).
create or replace view comment_other_letters as
select docket_id, comment_id, campaign_id
from campaign_also_copies
union
select inner_letter.docket_id, m.comment_id, inner_letter.campaign_id
from campaigns inner_letter
join campaign_members m
  on m.docket_id = inner_letter.docket_id and list_contains(inner_letter.contained_in, m.campaign_id);
