{
    "name": "Test Second Factor",
    "summary": "A fake second factor and a sensitive page, for the tests of erpcore's hooks",
    "version": "1.0",
    "depends": ["web"],
    "data": ["views/templates.xml"],
    "license": "LGPL-3",
}
