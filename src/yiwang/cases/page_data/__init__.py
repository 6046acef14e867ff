"""Reads that shape the case pages, one module per kind of page.

- ``applications``: the application form (questions, fields, materials) and who may apply online;
- ``applicant_case``: the applicant's case page;
- ``documents``: printed documents;
- ``staff``: the workbench and the case page for staff;
- ``intake``: counter intake and draft lists;
- ``desks``: the other apps' desks the workbench links to.

The pages stay thin: everything they show is put together here from the
selectors, the definitions and the transition table. Nothing here writes,
except the audit record of a file download (every read of personal data is
recorded).
"""
