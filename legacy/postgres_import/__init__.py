"""Moving the old Postgres site's data into the site's SQLite database (migrate_from_postgres).

The pieces, in the order the run uses them:

- migration.py the run itself, one method per step (the command only parses its arguments)
- tables.py   what each legacy table becomes: columns, conversions, the site's constraints, and
              its hooks (checks across rows, values computed in Python, work begun beforehand)
- source.py   the Postgres side: connecting, schema check, counts, problem rows, streaming
- build.py    the new SQLite file, built beside the live one, resumable after a kill
- batches.py  Postgres's rows read ahead in a thread, inserted in large transactions
- recordings.py the calls' recordings, decoded to files with their durations, in a thread
- head_start.py what a fresh build begins while the rows are checked
- verify.py   counts, checksums, foreign_key_check and integrity_check, both sides
- install.py  putting the verified file in place: rename, or one transaction under LiteFS
- progress.py progress bars on a terminal, plain log lines otherwise
"""


class ImportRefused(Exception):
    """Bad input or an unsafe situation; the message is a sentence saying what to fix."""
