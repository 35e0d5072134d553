"""`spaceport view JOB`: the job's model.sog in the SuperSplat web viewer, served on localhost."""

from spaceport.viewer.server import ViewerMissing, find_viewer_package, make_server, viewer_settings

__all__ = ["ViewerMissing", "find_viewer_package", "make_server", "viewer_settings"]
