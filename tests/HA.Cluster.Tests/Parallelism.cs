// Cluster tests spend most of their time waiting (for leases to expire, failures to be detected,
// base backups, agents to start), not computing: three at a time on a 2-core machine keeps the
// suite's wall time down without starving them (xunit's default is one per core).
[assembly: CollectionBehavior(MaxParallelThreads = 3)]
