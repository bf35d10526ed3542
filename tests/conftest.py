pytest_plugins = [
    "tests.fixtures.kafka",
    "tests.fixtures.sandbox",
    "tests.fixtures.relay",
    "tests.fixtures.cluster",
    "tests.fixtures.group",
    "tests.fixtures.prometheus",
    "tests.fixtures.content",
    "tests.fixtures.postgres",
]
