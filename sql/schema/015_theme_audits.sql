-- An analyst's check of the themes (`comments themes audit` / `comments themes import`): for a
-- sample of each theme's texts (kind 'member') and of texts near it but outside it ('near'),
-- whether the text really argues what the theme's label says. Precision of a theme = members
-- marked yes / members marked; a 'near' text marked yes is one the theme missed.
create table if not exists theme_audits (
    docket_id       varchar not null,
    theme_id        varchar not null,
    comment_id      varchar not null,     -- the text shown (a campaign's template stands for its copies)
    kind            varchar not null,     -- member | near
    label           varchar,              -- the theme's label when the sample was written
    belongs         boolean not null,     -- the analyst's yes / no
    run_id          varchar,              -- the analysis run the sample was drawn from
    source_ref      varchar,              -- file name and line
    audited_at      timestamp not null,
    primary key (docket_id, theme_id, comment_id)
);
