"""A payment provider that exists only in the tests, built as a provider's folder is (`payments/<name>/`): its parts
(`provider.py`) plug it into the app by one line in the app's provider list."""
