-- Files fetched for attachments, by URL: lets a rerun (or another comment
-- listing the same URL) reuse a stored file instead of downloading it again.
-- The file itself lives in the content-addressed store beside the database
-- (<db stem>.files/ab/cd/<sha256>).
create table if not exists attachment_files (
    url             varchar primary key,
    announced_size  bigint,       -- size the API listed when we fetched it
    sha256          varchar not null,
    stored_bytes    bigint not null,
    content_type    varchar,      -- as the server sent it (informative only: the type is sniffed)
    downloaded_at   timestamp not null
);
