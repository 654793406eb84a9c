"""Reading data files strictly, and fetching the built-in datasets."""
