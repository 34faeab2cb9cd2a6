"""`python -m bench.faults cluster`: the show's deployment with PostgreSQL on Patroni and etcd and Redis with Sentinel,
on hosts of their own (network namespaces), faulted under load and checked Jepsen's way against the final database."""
