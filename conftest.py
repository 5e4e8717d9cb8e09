pytest_plugins = ["territory.shared.testing", "territory.shared.warehouse.testing"]
