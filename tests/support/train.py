"""Training-stage test settings: a config that trains the small synthetic scene in seconds."""

FAST = {
    "max_image_size": 64, "sh_degree": 1, "sh_degree_interval": 40, "refine_start": 30,
    "refine_stop": 120, "refine_every": 30, "reset_every": 1000, "num_threads": 1, "preview_count": 2,
}
