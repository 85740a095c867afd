"""Envoy fleets: the hub as an ECDS (extension config discovery) server.

- :mod:`wasmhub.fleet.models`: the tables (migration ``0005_fleet``);
- :mod:`wasmhub.fleet.service`: fleet deployments, rollouts, rollback and node status
  (:class:`FleetService`, the one place that changes them);
- :mod:`wasmhub.fleet.server`: the gRPC ECDS/ADS server (state-of-the-world and delta)
  that ``wasmhub serve --xds-port`` runs in one thread of the serving process.
"""
