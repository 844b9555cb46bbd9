{
    "name": "Test Dependency B",
    "summary": "Extends the model of test_dep_a",
    "depends": ["test_dep_a"],
}
