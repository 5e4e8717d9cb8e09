pytest_plugins = ["territory.shared.testing"]
