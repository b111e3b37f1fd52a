-- Stance (and optionally theme) labels an analyst gave by hand, from
-- `comments label import FILE.csv` or the explorer's label mode.
-- One row per labeled comment; a label applies to every comment with the
-- same normalized text (comment_labels.text_hash), resolved when it is used.
create table if not exists analyst_labels (
    docket_id       varchar not null,
    comment_id      varchar primary key,
    stance          varchar not null,     -- support | oppose | mixed | unclear
    theme_id        varchar,              -- optional: the theme the analyst put it in
    source          varchar not null,     -- csv | explorer
    source_ref      varchar,              -- csv: file name and line; explorer: null
    labeled_at      timestamp not null
);
