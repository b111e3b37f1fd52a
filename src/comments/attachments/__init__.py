"""Attachment files: download (safely), store by content hash, extract text.

`process_attachments(con, docket_id, files_dir=...)` is the entry point; the
modules below it each hold one concern:

- `filestore`: the content-addressed file store beside the database
- `download`: allowed hosts, size cap, retries and pacing for file downloads
- `extract`: text from PDF/DOCX/DOC/TXT/HTML/RTF/images, type sniffed by magic bytes
- `pool`: a process pool with a per-file time limit (a hung worker is killed)
- `pipeline`: the database side: what is pending, batches of results, status lines
"""


from comments.attachments.filestore import FileStore, files_dir_for

__all__ = ["FileStore", "attachment_status_lines", "files_dir_for", "process_attachments"]


def __getattr__(name: str):
    # Lazy, so extraction worker processes (which import `extract` and `pool`
    # through this package) do not pay for DuckDB, Arrow and requests.
    if name == "process_attachments":
        from comments.attachments import pipeline

        return pipeline.process_attachments
    if name == "attachment_status_lines":
        from comments.attachments import status

        return status.attachment_status_lines
    raise AttributeError(name)
