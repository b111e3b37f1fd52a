-- Must return no rows: every attachment belongs to a stored comment.
select a.comment_id, a.doc_order from attachments a anti join comments c using (comment_id);
