-- Who runs a sync, so `comments status` and the next sync can tell a live run from a
-- dead one once several processes share the database (store.shared): the host, the
-- process id and its start time (a reused pid is another process), and when the run
-- last saved a page.
alter table sync_runs add column if not exists host varchar;
alter table sync_runs add column if not exists pid integer;
alter table sync_runs add column if not exists pid_started double;   -- the process's start, epoch seconds
alter table sync_runs add column if not exists heartbeat_at timestamp;
