"""The foundation: errors, validation, registries, documents, trust, the protocol types; imports nothing above."""
