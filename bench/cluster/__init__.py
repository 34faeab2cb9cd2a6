"""The show's deployment without a single machine: PostgreSQL under Patroni with etcd, Redis with Sentinel, each
engine's servers started on hosts given by a `Hosts` (network namespaces in `bench.faults cluster`, addresses of
the loopback network in the suite's failover tests)."""
