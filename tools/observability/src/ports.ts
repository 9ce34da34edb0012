/**
 * Default ports of every service (ARCHITECTURE.md §7): the API (gRPC, or HTTP for the REST
 * proxy) and the admin HTTP port of /metrics, /healthz and /readyz. The image EXPOSEs them,
 * the chart's values and the plain manifests use them; specs hold them to this table.
 */
export const SERVICE_PORTS: Readonly<Record<string, { api: number; admin: number }>> = {
  coordination: { api: 7000, admin: 8000 },
  controller: { api: 7100, admin: 8100 },
  broker: { api: 7200, admin: 8200 },
  'group-coordinator': { api: 7300, admin: 8300 },
  'rest-proxy': { api: 8082, admin: 9082 },
};
