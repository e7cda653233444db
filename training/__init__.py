"""Training room: datasets from the user's folders, the gesture classifier, generators.

Importing this package never imports torch; only the model and loop modules do.
"""
