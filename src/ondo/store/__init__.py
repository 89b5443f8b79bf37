"""Tables, migrations and the engine. Knows tables, not domains."""
