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
from comments.attachments.pipeline import attachment_status_lines, process_attachments

__all__ = ["FileStore", "attachment_status_lines", "files_dir_for", "process_attachments"]
