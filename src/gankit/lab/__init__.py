"""``gankit lab``: a local web page that trains a small GAN on a 1D or 2D problem while the user
watches and steers it.

The page (``static/``) is drawn by hand on canvases and served by the package itself, so the
lab works offline. The training is gankit's own :class:`~gankit.training.engine.Trainer`, driven
by :class:`~gankit.lab.session.Session` in a worker thread; :mod:`gankit.lab.app` is the
Starlette application that streams its frames (server-sent events) and takes the controls
(POST, JSON), each value validated by :mod:`gankit.config` as the command line validates it.
"""
