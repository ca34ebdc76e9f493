# Investigations, contacts and transmission links are edited on the pages, where scope,
# masking, the deadline tasks and the audit apply; the admin site does not offer a second,
# unaudited way in.
