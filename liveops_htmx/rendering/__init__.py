"""Rendering: from an operation to HTML fragments and the messages that carry them.

``context`` makes the view-models the partials see, ``templates`` finds the partials,
``fragments`` renders parts and the elements around them, ``protocol`` builds the
channel-layer messages. This package uses only the model and the templates.
"""
