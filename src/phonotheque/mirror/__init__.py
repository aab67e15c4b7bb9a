"""Mirrors: verify full and partial mirrors against a release, and plan what a volunteer should seed.

Works from a release's published artifacts alone (torrent list, .torrent files, file index).
Entry points: :func:`phonotheque.mirror.verify.verify` and :func:`phonotheque.mirror.seedplan.seedplan`
(not re-exported here, so the submodules are never shadowed by the functions of the same name).
"""
