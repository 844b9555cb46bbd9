{
    "name": "Test Dependency A",
    "summary": "Defines a model that test_dep_b extends",
    "depends": ["base"],
}
