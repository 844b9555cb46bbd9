{
    "name": "Test Failing Install",
    "summary": "Creates a table, a column and records, then its install hook fails",
    "version": "1.0",
    "depends": ["web"],
    "data": ["data/groups.xml"],
    "license": "LGPL-3",
    "post_init_hook": "post_init_hook",
}
