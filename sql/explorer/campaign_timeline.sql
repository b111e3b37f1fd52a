-- Copies of one campaign per day (the day received, posted when not known), over the
-- explorer's copy (explorer_facets: see facets_table.sql). Parameters: $docket_id, $campaign_id.
select day, count(*) as comments, sum(submissions) as submissions
from explorer_facets
where docket_id = $docket_id and campaign_id = $campaign_id and day is not null
group by day
order by day
