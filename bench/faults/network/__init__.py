"""`python -m bench.faults network`: the hosts of a deployment in network namespaces of their own, joined by links
with delay and loss (a user-space emulator: this kernel has no netem), and partitions between them."""
