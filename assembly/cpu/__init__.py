"""Where the CPU goes: each part of the service's share, measured in the processes that spend it (accounts.py, by the
names of parts.py), and the processes of an installation on this machine by kind (processes.py)."""
