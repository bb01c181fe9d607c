/**
 * Beyond one host, optional: a host's group joined to a fleet kept in etcd
 * ({@link dev.reuseport.fleet.FleetAgent}), staged policy rollouts with gates, freeze windows and hard
 * rollback ({@link dev.reuseport.fleet.Fleet}, {@link dev.reuseport.fleet.RolloutCoordinator}), and a
 * fleet-wide fallback to the kernel hash. {@link dev.reuseport.fleet.LocalEtcd} starts a throwaway etcd
 * cluster for tests and benchmarks. The single-host library (module {@code dev.reuseport}) never depends
 * on this package.
 */
package dev.reuseport.fleet;
