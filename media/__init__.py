"""Candidates' clips: what a clip must be to enter (clip_rules.py), how ffmpeg is run within bounds (ffmpeg.py),
and what becomes of an upload (processing.py: its probe, its renditions for phones, its poster and preview), and
the worker's jobs of candidates' files (passes.py: each upload's processing, who may fetch the files, the texts
candidates get, the sweep). Nothing here runs in a vote-taking web process: big files are the worker's and the
upload process's."""
