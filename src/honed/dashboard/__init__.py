"""The web dashboard over a store (``honed dashboard``)."""
