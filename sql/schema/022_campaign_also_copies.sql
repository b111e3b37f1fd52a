-- Comments counted under one campaign that also copy another campaign's letter (a compound
-- letter, a paragraph bank): they hold as much of that letter's template as a member must.
-- A comment is a member of one campaign only, so campaign sizes add up; this table lists it
-- with every other campaign whose letter it copies.
create table if not exists campaign_also_copies (
    docket_id           varchar not null,
    campaign_id         varchar not null,  -- the campaign whose letter the comment also copies
    comment_id          varchar not null,  -- a member of another campaign (campaign_members)
    template_share      double not null,   -- share of this campaign's template found in the comment, 0..1
    run_id              varchar not null,
    primary key (docket_id, campaign_id, comment_id)
);
-- The campaigns whose template holds this campaign's letter (a letter pasted into a longer one):
-- every copy of those copies this letter too. Their members are not listed one by one above.
alter table campaigns add column if not exists contained_in varchar[];
